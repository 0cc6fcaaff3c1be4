"""Agency administration of sharing: agreements in and out (request, accept as asked or narrowed, decline, revoke,
withdraw) and the policy editor (presets, a full policy as JSON, and the plain-language preview of either).

Every step calls ``platform.agreements`` / ``platform.policies``, which check the admin's role and audit it."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Path, Request
from fastapi.responses import Response
from starlette.datastructures import FormData

from plateledger.appstate import PlatformDep
from plateledger.auth.sessions import SignedIn
from plateledger.core import zones
from plateledger.core.errors import FieldInvalid
from plateledger.platform import Platform
from plateledger.policy.rules import PRESETS, Terms, describe
from plateledger.sharing.service import AgreementView, make_terms
from plateledger.web.render import page, see_other
from plateledger.web.security import SessionDep, checked_form, field, fields

router = APIRouter(include_in_schema=False)
AgreementId = Annotated[int, Path(ge=1, le=2_147_483_647)]


def _lookback(form: FormData) -> int:
    text = field(form, "max_lookback_days")
    if not text.isdigit():
        raise FieldInvalid("terms.max_lookback_days", "a whole number of days")
    return int(text)


def terms_from(form: FormData, time_zone: str | None) -> Terms:
    """The terms a form asks for; its last day in force is a date in the user's zone ``time_zone``."""
    return make_terms(
        query_kinds=fields(form, "query_kinds"),
        purposes=fields(form, "purposes"),
        max_lookback_days=_lookback(form),
        expires=zones.day_end(field(form, "expires"), time_zone),
    )


def _shown(view: AgreementView, time_zone: str | None) -> dict[str, Any]:
    """An agreement for the page; ``last_day``: the date input's value for the requested expiry (the last day in
    force, as ``make_terms`` reads it back)."""
    shown = view.as_json()
    shown["requested_terms"]["last_day"] = zones.day_of(view.requested_terms["expires_ms"] - 1, time_zone)
    return shown


@router.get("/ui/admin/sharing")
def sharing_page(request: Request, platform: PlatformDep, signed: SessionDep) -> Response:
    views = [_shown(v, signed.principal.time_zone) for v in platform.agreements.listing(signed.principal, manage=True)]
    mine = signed.principal.agency_slug
    others = [a for a in platform.registry.agencies() if a.slug != mine]
    expires = zones.day_of(platform.clock.now_ms() + 365 * 86_400_000, signed.principal.time_zone)
    return page(
        request,
        "sharing.html",
        signed,
        incoming=[v for v in views if v["owner"] == mine],
        outgoing=[v for v in views if v["requester"] == mine],
        agencies=others,
        default_expires=expires,
    )


@router.post("/ui/admin/sharing/request")
async def request_sharing(request: Request, platform: PlatformDep, signed: SessionDep) -> Response:
    form = await checked_form(request, platform, signed)
    platform.agreements.request(
        signed.principal,
        owner=field(form, "owner"),
        terms=terms_from(form, signed.principal.time_zone),
        attestation=field(form, "attestation") or None,
        note=field(form, "note") or None,
    )
    return see_other("/ui/admin/sharing")


@router.post("/ui/admin/sharing/{agreement_id}/{step}")
async def agreement_step(
    agreement_id: AgreementId,
    step: Literal["accept", "decline", "revoke", "withdraw"],
    request: Request,
    platform: PlatformDep,
    signed: SessionDep,
) -> Response:
    form = await checked_form(request, platform, signed)
    note = field(form, "note") or None
    if step == "accept":
        narrowed = terms_from(form, signed.principal.time_zone) if field(form, "narrow") == "yes" else None
        platform.agreements.accept(signed.principal, agreement_id, terms=narrowed, note=note)
    elif step == "decline":
        platform.agreements.decline(signed.principal, agreement_id, note=note)
    elif step == "revoke":
        platform.agreements.revoke(signed.principal, agreement_id, note=note)
    else:
        platform.agreements.withdraw(signed.principal, agreement_id, note=note)
    return see_other(f"/ui/admin/sharing#agreement-{agreement_id}")


# -- policy ------------------------------------------------------------------------------------------------------
def _policy_page(
    request: Request,
    platform: Platform,
    signed: SignedIn,
    *,
    draft: str | None = None,
    preview: list[str] | None = None,
    error: str | None = None,
) -> Response:
    principal = signed.principal
    current = platform.policies.editing(principal)
    where = {"country": principal.country, "state": principal.state}
    presets = [
        {"name": name.value, "encodes": encodes, "text": describe(policy, **where)}
        for name, (policy, encodes) in PRESETS.items()
    ]
    if draft is None:
        draft = orjson.dumps(current.as_json()["policy"], option=orjson.OPT_INDENT_2).decode()
    return page(
        request,
        "policy.html",
        signed,
        status=422 if error else 200,
        current=current.as_json(),
        presets=presets,
        draft=draft,
        preview=preview,
        error=error,
    )


@router.get("/ui/admin/policy")
def policy_page(request: Request, platform: PlatformDep, signed: SessionDep) -> Response:
    return _policy_page(request, platform, signed)


@router.post("/ui/admin/policy")
async def set_policy(request: Request, platform: PlatformDep, signed: SessionDep) -> Response:
    """``action=preview`` shows what the draft would allow without saving; ``save`` stores it (a new version,
    audited); ``preset`` stores a preset as it is."""
    form = await checked_form(request, platform, signed)
    principal = signed.principal
    action = field(form, "action")
    if action == "preset":
        platform.policies.set_from(principal, principal.agency_slug, preset=field(form, "preset"))
        return see_other("/ui/admin/policy")
    draft_text = field(form, "policy")
    try:
        if action == "preview":
            text = platform.policies.preview(principal, draft_text)
            return _policy_page(request, platform, signed, draft=draft_text, preview=text)
        platform.policies.set_from(principal, principal.agency_slug, policy=draft_text)
    except FieldInvalid as bad:
        return _policy_page(request, platform, signed, draft=draft_text, error=bad.detail)
    return see_other("/ui/admin/policy")
