"""Sharing agreements between agencies and owners' policies: /api/v1/sharing/... and /api/v1/policies/..."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path

from plateledger.api.deps import PlatformDep, PrincipalDep
from plateledger.api.schemas import (
    AcceptIn,
    AgreementOut,
    NoteIn,
    PolicyIn,
    PolicyOut,
    PresetOut,
    SharingRequestIn,
    TermsIn,
)
from plateledger.policy.rules import PRESETS, Terms, describe
from plateledger.sharing.service import make_terms

router = APIRouter(prefix="/api/v1")
AgreementId = Annotated[int, Path(ge=1, le=2_147_483_647)]
Slug = Annotated[str, Path(max_length=64)]
ERRORS: dict[int | str, dict[str, Any]] = {403: {}, 404: {}, 409: {}, 422: {}}


def _terms(body: TermsIn) -> Terms:
    return make_terms(
        query_kinds=body.query_kinds,
        purposes=body.purposes,
        max_lookback_days=body.max_lookback_days,
        expires=body.expires,
    )


@router.post("/sharing/requests", response_model=AgreementOut, status_code=201, tags=["sharing"], responses=ERRORS)
def request_sharing(body: SharingRequestIn, platform: PlatformDep, principal: PrincipalDep) -> dict[str, Any]:
    """Ask another agency for access to its reads on the given terms (your agency's admin). Audited."""
    view = platform.agreements.request(
        principal, owner=body.owner, terms=_terms(body.terms), attestation=body.attestation, note=body.note
    )
    return view.as_json()


@router.get("/sharing/agreements", response_model=list[AgreementOut], tags=["sharing"])
def list_agreements(platform: PlatformDep, principal: PrincipalDep) -> list[dict[str, Any]]:
    """Your agency's agreements in both directions, in every state."""
    return [view.as_json() for view in platform.agreements.listing(principal)]


@router.get("/sharing/agreements/{agreement_id}", response_model=AgreementOut, tags=["sharing"], responses=ERRORS)
def get_agreement(agreement_id: AgreementId, platform: PlatformDep, principal: PrincipalDep) -> dict[str, Any]:
    return platform.agreements.get(principal, agreement_id).as_json()


@router.post(
    "/sharing/agreements/{agreement_id}/accept", response_model=AgreementOut, tags=["sharing"], responses=ERRORS
)
def accept_agreement(
    agreement_id: AgreementId, body: AcceptIn, platform: PlatformDep, principal: PrincipalDep
) -> dict[str, Any]:
    """Accept a request for your agency's reads (owner's admin), on the requested terms or narrower ones."""
    terms = _terms(body.terms) if body.terms else None
    return platform.agreements.accept(principal, agreement_id, terms=terms, note=body.note).as_json()


@router.post(
    "/sharing/agreements/{agreement_id}/decline", response_model=AgreementOut, tags=["sharing"], responses=ERRORS
)
def decline_agreement(
    agreement_id: AgreementId, body: NoteIn, platform: PlatformDep, principal: PrincipalDep
) -> dict[str, Any]:
    """Decline a pending request (owner's admin)."""
    return platform.agreements.decline(principal, agreement_id, note=body.note).as_json()


@router.post(
    "/sharing/agreements/{agreement_id}/revoke", response_model=AgreementOut, tags=["sharing"], responses=ERRORS
)
def revoke_agreement(
    agreement_id: AgreementId, body: NoteIn, platform: PlatformDep, principal: PrincipalDep
) -> dict[str, Any]:
    """Revoke an accepted agreement (owner's admin); it grants nothing from the next search on."""
    return platform.agreements.revoke(principal, agreement_id, note=body.note).as_json()


@router.post(
    "/sharing/agreements/{agreement_id}/withdraw", response_model=AgreementOut, tags=["sharing"], responses=ERRORS
)
def withdraw_agreement(
    agreement_id: AgreementId, body: NoteIn, platform: PlatformDep, principal: PrincipalDep
) -> dict[str, Any]:
    """Withdraw your agency's request, or give up an accepted agreement (requester's admin)."""
    return platform.agreements.withdraw(principal, agreement_id, note=body.note).as_json()


@router.get("/policy-presets", response_model=list[PresetOut], tags=["policies"])
def presets(principal: PrincipalDep) -> list[dict[str, Any]]:
    """The presets a policy can start from, each with what it encodes."""
    return [
        {
            "name": name.value,
            "encodes": encodes,
            "policy": policy.model_dump(mode="json"),
            "text": describe(policy, country=principal.country, state=principal.state),
        }
        for name, (policy, encodes) in PRESETS.items()
    ]


@router.get("/policies/{agency}", response_model=PolicyOut, tags=["policies"], responses={404: {}})
def get_policy(agency: Slug, platform: PlatformDep, principal: PrincipalDep) -> dict[str, Any]:
    """An agency's policy in force, with its plain-language text (policies are public)."""
    return platform.policies.current(agency).as_json()


@router.get("/policies/{agency}/history", response_model=list[PolicyOut], tags=["policies"], responses={404: {}})
def policy_history(agency: Slug, platform: PlatformDep, principal: PrincipalDep) -> list[dict[str, Any]]:
    """Every version of an agency's policy, oldest first."""
    return [version.as_json() for version in platform.policies.history(agency)]


@router.put("/policies/{agency}", response_model=PolicyOut, tags=["policies"], responses=ERRORS)
def set_policy(agency: Slug, body: PolicyIn, platform: PlatformDep, principal: PrincipalDep) -> dict[str, Any]:
    """Set your agency's policy (admin): a preset, a full policy, or both (the policy, recorded as based on the
    preset). Stored as a new version; the change is audited with old and new."""
    return platform.policies.set_from(principal, agency, preset=body.preset, policy=body.policy).as_json()
