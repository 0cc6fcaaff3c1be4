"""Alert webhooks of an agency: registration (admin only, audited), signing, and the delivery log.

Each alert is POSTed as JSON with ``X-Plateledger-Timestamp`` (Unix seconds) and ``X-Plateledger-Signature``, the
hex HMAC-SHA256 under the webhook's secret of ``"{timestamp}.{body}"`` (see docs/alerts.md for how to verify).
The secret is shown once, when the webhook is created; it is stored because signing needs it.

A webhook's URL must be https:// and reach only public addresses, at registration and before each delivery
(:mod:`plateledger.alerts.targets`). Alerts of covert lists are never sent to webhooks: a webhook's receiver is not
a named viewer of the list. Approval notices (a search held for the agency's approval, a break-glass search it
must review: :mod:`plateledger.approvals.notices`) go to every enabled webhook of the agency. The sending itself
is done by :class:`plateledger.alerts.sender.WebhookSender`, a background thread.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from plateledger.alerts.targets import TargetGuard
from plateledger.audit.events import WebhookCreated, WebhookDeleted, WebhookDisabled, WebhookEnabled
from plateledger.audit.log import SYSTEM, AuditLog
from plateledger.auth.tokens import Principal
from plateledger.core.clock import Clock, iso_ms
from plateledger.core.errors import FieldInvalid, NotFound
from plateledger.hotlists.service import machine_delivery_allowed
from plateledger.policy.actions import Action, refuse_unseen, require
from plateledger.store.governance import Governance
from plateledger.store.models import Webhook, WebhookDelivery

MAX_URL = 500


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The ``X-Plateledger-Signature`` of ``body`` sent at ``timestamp``."""
    return hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def webhook_json(row: Webhook) -> dict[str, Any]:
    return {
        "id": row.id,
        "url": row.url,
        "created": iso_ms(row.created_ms),
        "enabled": row.disabled_ms is None,
        "disabled": iso_ms(row.disabled_ms) if row.disabled_ms is not None else None,
        "failures": row.failures,
    }


def delivery_json(row: WebhookDelivery) -> dict[str, Any]:
    return {
        "id": row.id,
        "alert_id": row.alert_id,
        "approval_request": row.approval_request_id,
        "attempt": row.attempt,
        "ts": iso_ms(row.ts_ms),
        "status": row.status,
        "response_code": row.response_code,
        "error": row.error,
        "next_attempt": iso_ms(row.next_attempt_ms) if row.next_attempt_ms is not None else None,
    }


@dataclass(frozen=True)
class Target:
    """What the sender needs to deliver to one webhook."""

    webhook_id: int
    url: str
    secret: str


class Webhooks:
    def __init__(self, governance: Governance, audit: AuditLog, clock: Clock, guard: TargetGuard) -> None:
        self._gov = governance
        self._audit = audit
        self._clock = clock
        #: Where a webhook may send (checked at registration here, and by the sender before each delivery).
        self.guard = guard

    # -- administration (an agency admin, audited) ---------------------------------------------------------
    def _admin(self, principal: Principal) -> None:
        require(principal, Action.WEBHOOK_MANAGE, principal.agency_id, audit=self._audit)

    @staticmethod
    def _own(session: Session, principal: Principal, webhook_id: int) -> Webhook:
        row = session.get(Webhook, webhook_id)
        if row is None or row.agency_id != principal.agency_id:
            raise NotFound("no such webhook")
        return row

    def _admin_of(self, principal: Principal, webhook_id: int) -> None:
        """The table's check, then another agency's webhook refused (and audited) exactly as a made-up id."""
        self._admin(principal)
        with self._gov.session() as session:
            row = session.get(Webhook, webhook_id)
            seen = row is not None and row.agency_id == principal.agency_id
        if not seen:
            refuse_unseen(principal, Action.WEBHOOK_MANAGE, audit=self._audit, message="no such webhook")

    def create(self, principal: Principal, url: str) -> dict[str, Any]:
        """Register a webhook; the answer holds its ``secret``, shown this once."""
        self._admin(principal)
        url = url.strip()
        if not url or len(url) > MAX_URL:
            raise FieldInvalid("url", f"an https:// URL of at most {MAX_URL} characters")
        self.guard.validate(url)
        secret = secrets.token_urlsafe(32)

        def change(session: Session) -> tuple[WebhookCreated, dict[str, Any]]:
            row = Webhook(
                agency_id=principal.agency_id, url=url, secret=secret, created_ms=self._clock.now_ms(), failures=0
            )
            session.add(row)
            session.flush()
            return WebhookCreated(webhook_id=row.id, url=url), {**webhook_json(row), "secret": secret}

        return self._audit.record(principal.actor, change)[1]

    def listing(self, principal: Principal) -> list[dict[str, Any]]:
        self._admin(principal)
        with self._gov.session() as session:
            rows = session.scalars(select(Webhook).where(Webhook.agency_id == principal.agency_id).order_by(Webhook.id))
            return [webhook_json(row) for row in rows]

    def delete(self, principal: Principal, webhook_id: int) -> None:
        """Delete a webhook and its delivery log (the audit log keeps that it existed)."""
        self._admin_of(principal, webhook_id)

        def change(session: Session) -> tuple[WebhookDeleted, None]:
            row = self._own(session, principal, webhook_id)
            event = WebhookDeleted(webhook_id=row.id, url=row.url, failures=row.failures)
            session.execute(delete(WebhookDelivery).where(WebhookDelivery.webhook_id == row.id))
            session.delete(row)
            return event, None

        self._audit.record(principal.actor, change)

    def enable(self, principal: Principal, webhook_id: int) -> dict[str, Any]:
        """Re-enable a webhook (its consecutive failure count reset)."""
        self._admin_of(principal, webhook_id)

        def change(session: Session) -> tuple[WebhookEnabled, dict[str, Any]]:
            row = self._own(session, principal, webhook_id)
            event = WebhookEnabled(webhook_id=row.id, url=row.url, failures=row.failures)
            row.disabled_ms = None
            row.failures = 0
            session.flush()
            return event, webhook_json(row)

        return self._audit.record(principal.actor, change)[1]

    def deliveries(self, principal: Principal, webhook_id: int, *, limit: int = 100) -> list[dict[str, Any]]:
        """The delivery log of a webhook, newest first."""
        self._admin_of(principal, webhook_id)
        if not 1 <= limit <= 1000:
            raise FieldInvalid("limit", "between 1 and 1000")
        with self._gov.session() as session:
            self._own(session, principal, webhook_id)
            rows = session.scalars(
                select(WebhookDelivery)
                .where(WebhookDelivery.webhook_id == webhook_id)
                .order_by(WebhookDelivery.id.desc())
                .limit(limit)
            )
            return [delivery_json(row) for row in rows]

    # -- for the sender ----------------------------------------------------------------------------------------
    def targets(self, agency_id: int, list_id: int) -> list[Target]:
        """The enabled webhooks an alert of ``list_id`` goes to (none for a covert list)."""
        with self._gov.session() as session:
            if not machine_delivery_allowed(session, list_id):
                return []
            rows = session.scalars(select(Webhook).where(Webhook.agency_id == agency_id, Webhook.disabled_ms.is_(None)))
            return [Target(row.id, row.url, row.secret) for row in rows]

    def notice_targets(self, agency_id: int) -> list[Target]:
        """The enabled webhooks an approval notice for ``agency_id`` goes to: all of them (a notice holds no read,
        plate or place: :mod:`plateledger.approvals.notices`)."""
        with self._gov.session() as session:
            rows = session.scalars(select(Webhook).where(Webhook.agency_id == agency_id, Webhook.disabled_ms.is_(None)))
            return [Target(row.id, row.url, row.secret) for row in rows]

    def enabled(self, webhook_id: int) -> bool:
        with self._gov.session() as session:
            row = session.get(Webhook, webhook_id)
            return row is not None and row.disabled_ms is None

    def record_attempt(
        self,
        webhook_id: int,
        alert_id: int | None,
        attempt: int,
        *,
        status: str,
        response_code: int | None,
        error: str,
        next_attempt_ms: int | None,
        disable_after: int,
        approval_request_id: int | None = None,
    ) -> bool:
        """Log one attempt and keep the consecutive failure count; disable the webhook (audited) when it reaches
        ``disable_after``. Returns whether the webhook is still enabled."""
        with self._gov.session() as session:
            row = session.get(Webhook, webhook_id)
            if row is None:
                return False
            session.add(
                WebhookDelivery(
                    webhook_id=webhook_id,
                    alert_id=alert_id,
                    approval_request_id=approval_request_id,
                    attempt=attempt,
                    ts_ms=self._clock.now_ms(),
                    status=status,
                    response_code=response_code,
                    error=error[:500],
                    next_attempt_ms=next_attempt_ms,
                )
            )
            if status == "delivered":
                row.failures = 0
            else:
                row.failures += 1
            failures, url, disabled = row.failures, row.url, row.disabled_ms is not None
        if disabled or failures < disable_after:
            return not disabled

        def change(session: Session) -> tuple[WebhookDisabled, None]:
            current = session.get(Webhook, webhook_id)
            if current is not None and current.disabled_ms is None:
                current.disabled_ms = self._clock.now_ms()
            return WebhookDisabled(webhook_id=webhook_id, url=url, failures=failures), None

        self._audit.record(SYSTEM, change)
        return False
