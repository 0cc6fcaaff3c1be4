"""Users' subscriptions to alerts by e-mail or push (Apprise), and their delivery log.

A user who may see alerts (an investigator, supervisor or admin) subscribes *themselves* to the alerts of one hot list
they may see, or of every list of one purpose (the list's default purpose), delivered to an e-mail address or to
one or more Apprise URLs (ntfy, Pushover, Teams, ...: https://github.com/caronc/apprise/wiki). Subscribing and
unsubscribing are audited. An Apprise URL carries its service's token: it is stored because sending needs it, and
is otherwise only ever shown redacted (``shown``) — in answers, the audit log, the delivery log and server logs.

Nothing reaches a user who may no longer see an alert: before *each* attempt (the first and every retry) the
sender asks :meth:`Subscriptions.deliverable`, which reads the user, their role, their agency and the alert's list
again (:func:`plateledger.hotlists.service.may_see`: a covert list's alerts only for its creator and named
viewers). A disabled user, a role without alerts, a viewer removed from a covert list or a list that is gone gets
nothing, and no delivery row is written for it. A push target's host is checked like a webhook's
(:class:`plateledger.alerts.targets.TargetGuard`: public addresses only) when subscribing and before each attempt.

A notification holds the minimum: plate, list, camera, time and a link to the alert in the web UI; no image.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import apprise
import orjson
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from plateledger.alerts.service import vehicle_json, vehicle_line
from plateledger.alerts.targets import TargetGuard
from plateledger.audit.events import NotifyEvent, NotifySubscribed, NotifyUnsubscribed
from plateledger.audit.log import AuditLog
from plateledger.auth.tokens import Principal, principal_of
from plateledger.core.clock import Clock, iso_ms
from plateledger.core.errors import FieldInvalid, NotFound
from plateledger.hotlists.service import may_see
from plateledger.policy.actions import Action, allowed, refuse_unseen, require
from plateledger.store.governance import Governance
from plateledger.store.models import Agency, Alert, HotList, NotifyDelivery, NotifySubscription, User
from plateledger.vocab import Purpose

CHANNELS = ("email", "push")
MAX_PUSH_URLS = 5
MAX_URL = 500
MAX_SUBSCRIPTIONS = 50
EMAIL = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?")
#: Apprise services a subscription may use: push and chat services. Not Apprise's e-mail (the ``email`` channel
#: is the operator's SMTP server), nor desktop, syslog or other services of the server's own machine.
PUSH_SCHEMES = frozenset(
    {
        "ntfy", "ntfys", "pover", "msteams", "json", "jsons", "form", "forms", "xml", "xmls", "gotify", "gotifys",
        "tgram", "discord", "slack", "matrix", "matrixs", "mmost", "mmosts", "rocket", "rockets", "signal",
        "signals", "pbul", "apprise", "apprises", "workflows", "wxteams", "zulip", "pagerduty", "opsgenie",
    }
)  # fmt: skip


def _plugin(url: str) -> Any:
    """Apprise's plugin for ``url`` (FieldInvalid ``push_urls`` when Apprise does not read it, or not allowed)."""
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    if scheme not in PUSH_SCHEMES:
        raise FieldInvalid("push_urls", f"{scheme or url[:20]!r} is not a push service accepted here")
    plugin = apprise.Apprise.instantiate(url)
    if plugin is None:
        raise FieldInvalid("push_urls", f"not a valid {scheme}:// Apprise URL")
    return plugin


def shown_url(url: str) -> str:
    """The redacted form of an Apprise URL: the service and its scheme, never a token, user or path."""
    scheme = url.split("://", 1)[0].lower()
    plugin = apprise.Apprise.instantiate(url)
    name = str(plugin.service_name) if plugin is not None else scheme
    return f"{scheme}://… ({name})"


def secret_parts(urls: list[str]) -> set[str]:
    """Every part of ``urls`` that could be a secret (user, password, token, path, query values), for scrubbing
    error messages: all but the scheme, a custom host and the port."""
    parts: set[str] = set()
    for url in urls:
        plugin = apprise.Apprise.instantiate(url)
        keep = {str(getattr(plugin, "host", ""))} if plugin is not None and "host" in plugin.template_tokens else set()
        rest = url.split("://", 1)[-1]
        parts |= {p for p in re.split(r"[/:@?&=#,]+", rest) if len(p) >= 3 and not p.isdigit() and p not in keep}
    return parts


def scrub(text: str, secrets: set[str]) -> str:
    for part in sorted(secrets, key=len, reverse=True):
        text = text.replace(part, "…")
    return text


@dataclass(frozen=True)
class Delivery:
    """What the sender needs for one attempt: where to, and the message."""

    subscription_id: int
    channel: str
    #: The e-mail address, or the Apprise URLs.
    targets: list[str]
    title: str
    body: str


def subscription_json(row: NotifySubscription, list_name: str | None, username: str) -> dict[str, Any]:
    return {
        "id": row.id,
        "user": username,
        "channel": row.channel,
        "list": {"id": row.hot_list_id, "name": list_name} if row.hot_list_id is not None else None,
        "purpose": row.purpose,
        "target": row.shown,
        "created": iso_ms(row.created_ms),
    }


def delivery_json(row: NotifyDelivery) -> dict[str, Any]:
    return {
        "id": row.id,
        "subscription": row.subscription_id,
        "alert_id": row.alert_id,
        "attempt": row.attempt,
        "ts": iso_ms(row.ts_ms),
        "status": row.status,
        "error": row.error,
        "next_attempt": iso_ms(row.next_attempt_ms) if row.next_attempt_ms is not None else None,
    }


def message(alert: Alert, list_name: str, base_url: str) -> tuple[str, str]:
    """The title and text of a notification: the minimum to act on (no image, no owner, no case)."""
    title = f"Plateledger alert: {alert.plate} on {list_name}"
    region = f" ({alert.region})" if alert.region else ""
    vehicle = vehicle_line(vehicle_json(alert))
    body = "\n".join(
        [
            f"Plate: {alert.plate}{region}",
            *([f"Vehicle: {vehicle}"] if vehicle else []),
            f"List: {list_name}",
            f"Camera: {alert.camera}",
            f"Time: {iso_ms(alert.read_ms)}",
            f"Alert: {base_url.rstrip('/')}/ui/alerts#alert-{alert.id}",
            "Verify the plate against the image before acting.",
        ]
    )
    return title, body


class Subscriptions:
    def __init__(
        self, governance: Governance, audit: AuditLog, clock: Clock, guard: TargetGuard, *, base_url: str
    ) -> None:
        self._gov = governance
        self._audit = audit
        self._clock = clock
        #: Where a push target may send (checked when subscribing and before each attempt).
        self.guard = guard
        self.base_url = base_url

    # -- a user's own subscriptions ----------------------------------------------------------------------------
    def check_push_url(self, url: str) -> None:
        """FieldInvalid ``push_urls`` unless ``url`` is an accepted Apprise URL whose host (for a service on a
        host of one's choosing) is a public address."""
        plugin = _plugin(url)
        host = str(getattr(plugin, "host", "") or "")
        if "host" in plugin.template_tokens and host:
            port = int(getattr(plugin, "port", None) or 443)
            try:
                self.guard.addresses(host, port)
            except FieldInvalid as refused:
                raise FieldInvalid("push_urls", refused.rule.replace("webhooks go", "push targets go")) from None
            except OSError:
                return  # resolves to nothing yet: checked again before each attempt

    def subscribe(
        self,
        principal: Principal,
        channel: str,
        *,
        list_id: int | None = None,
        purpose: str | None = None,
        address: str | None = None,
        push_urls: list[str] | None = None,
    ) -> dict[str, Any]:
        """Subscribe ``principal`` to the alerts of ``list_id`` (a list they may see) or of ``purpose``, by
        ``email`` to ``address`` or by ``push`` to ``push_urls``. Audited (the target redacted)."""
        require(principal, Action.NOTIFY_SUBSCRIBE, principal.agency_id, audit=self._audit)
        if channel not in CHANNELS:
            raise FieldInvalid("channel", "email or push")
        if (list_id is None) == (purpose is None):
            raise FieldInvalid("list", "give a hot list or a purpose (one of them)")
        if purpose is not None and purpose not in {p.value for p in Purpose}:
            raise FieldInvalid("purpose", f"unknown purpose {purpose[:64]!r}")
        if channel == "email":
            address = (address or "").strip()
            if not EMAIL.fullmatch(address) or len(address) > 254:
                raise FieldInvalid("address", "an e-mail address like name@example.org")
            target, shown = address, address
        else:
            urls = [u.strip() for u in (push_urls or []) if u.strip()]
            if not urls:
                raise FieldInvalid("push_urls", "one or more Apprise URLs, e.g. ntfys://my-topic")
            if len(urls) > MAX_PUSH_URLS:
                raise FieldInvalid("push_urls", f"at most {MAX_PUSH_URLS} URLs")
            for url in urls:
                if len(url) > MAX_URL:
                    raise FieldInvalid("push_urls", f"each URL at most {MAX_URL} characters")
                self.check_push_url(url)
            target, shown = orjson.dumps(urls).decode(), ", ".join(shown_url(u) for u in urls)
        if list_id is not None:
            self._seen_list(principal, list_id)

        def change(session: Session) -> tuple[NotifyEvent, dict[str, Any]]:
            mine = select(NotifySubscription.id).where(NotifySubscription.user_id == principal.user_id)
            count = len(session.scalars(mine).all())
            if count >= MAX_SUBSCRIPTIONS:
                raise FieldInvalid("channel", f"at most {MAX_SUBSCRIPTIONS} subscriptions per user")
            list_name = None
            if list_id is not None:
                hot_list = session.get(HotList, list_id)
                if hot_list is None or not may_see(session, principal, hot_list):
                    raise NotFound("no such hot list")
                list_name = hot_list.name
            row = NotifySubscription(
                user_id=principal.user_id,
                agency_id=principal.agency_id,
                channel=channel,
                hot_list_id=list_id,
                purpose=purpose,
                target=target,
                shown=shown[:1000],
                created_ms=self._clock.now_ms(),
            )
            session.add(row)
            session.flush()
            return self._event(NotifySubscribed, row, principal.username), subscription_json(
                row, list_name, principal.username
            )

        return self._audit.record(principal.actor, change)[1]

    def _seen_list(self, principal: Principal, list_id: int) -> None:
        """A list the principal may not see is refused (and audited) exactly as a made-up id."""
        with self._gov.session() as session:
            row = session.get(HotList, list_id)
            seen = row is not None and may_see(session, principal, row)
        if not seen:
            refuse_unseen(principal, Action.NOTIFY_SUBSCRIBE, audit=self._audit, message="no such hot list")

    @staticmethod
    def _event(
        kind: type[NotifySubscribed] | type[NotifyUnsubscribed], row: NotifySubscription, username: str
    ) -> NotifyEvent:
        return kind(
            subscription_id=row.id,
            user=username,
            channel=row.channel,
            list_id=row.hot_list_id,
            purpose=row.purpose,
            target=row.shown,
        )

    def _rows(
        self, session: Session, principal: Principal, *, agency_wide: bool
    ) -> list[tuple[NotifySubscription, str]]:
        query = select(NotifySubscription, User.username).join(User, User.id == NotifySubscription.user_id)
        if agency_wide:
            query = query.where(NotifySubscription.agency_id == principal.agency_id)
        else:
            query = query.where(NotifySubscription.user_id == principal.user_id)
        return [(row, username) for row, username in session.execute(query.order_by(NotifySubscription.id))]

    def _list_name(self, session: Session, principal: Principal, row: NotifySubscription) -> str | None:
        if row.hot_list_id is None:
            return None
        hot_list = session.get(HotList, row.hot_list_id)
        # A covert list an admin may not see stays unnamed in the admin's view.
        return hot_list.name if hot_list is not None and may_see(session, principal, hot_list) else None

    def listing(self, principal: Principal, *, agency_wide: bool = False) -> list[dict[str, Any]]:
        """The principal's own subscriptions; with ``agency_wide``, every user's of the agency (its admin)."""
        action = Action.NOTIFY_OVERSEE if agency_wide else Action.NOTIFY_SUBSCRIBE
        require(principal, action, principal.agency_id, audit=self._audit)
        with self._gov.session() as session:
            return [
                subscription_json(row, self._list_name(session, principal, row), username)
                for row, username in self._rows(session, principal, agency_wide=agency_wide)
            ]

    def _mine(self, session: Session, principal: Principal, subscription_id: int) -> NotifySubscription | None:
        """The subscription if it is the principal's own, or (for an admin) one of the agency's users'."""
        row = session.get(NotifySubscription, subscription_id)
        if row is None:
            return None
        if row.user_id == principal.user_id:
            return row
        if row.agency_id == principal.agency_id and allowed(principal, Action.NOTIFY_OVERSEE, row.agency_id).allowed:
            return row
        return None

    def _seen(self, principal: Principal, subscription_id: int) -> None:
        with self._gov.session() as session:
            seen = self._mine(session, principal, subscription_id) is not None
        if not seen:
            refuse_unseen(principal, Action.NOTIFY_SUBSCRIBE, audit=self._audit, message="no such subscription")

    def unsubscribe(self, principal: Principal, subscription_id: int) -> None:
        """Remove a subscription (one's own, or as admin one of the agency's users') and its delivery log.
        Audited."""
        self._seen(principal, subscription_id)

        def change(session: Session) -> tuple[NotifyEvent, None]:
            row = self._mine(session, principal, subscription_id)
            if row is None:
                raise NotFound("no such subscription")
            user = session.get(User, row.user_id)
            event = self._event(NotifyUnsubscribed, row, user.username if user is not None else "")
            session.execute(delete(NotifyDelivery).where(NotifyDelivery.subscription_id == row.id))
            session.delete(row)
            return event, None

        self._audit.record(principal.actor, change)

    def deliveries(self, principal: Principal, subscription_id: int, *, limit: int = 100) -> list[dict[str, Any]]:
        """The delivery log of a subscription (its user's, or their admin's), newest first."""
        if not 1 <= limit <= 1000:
            raise FieldInvalid("limit", "between 1 and 1000")
        self._seen(principal, subscription_id)
        with self._gov.session() as session:
            rows = session.scalars(
                select(NotifyDelivery)
                .where(NotifyDelivery.subscription_id == subscription_id)
                .order_by(NotifyDelivery.id.desc())
                .limit(limit)
            )
            return [delivery_json(row) for row in rows]

    # -- for the sender ----------------------------------------------------------------------------------------
    def for_alert(self, agency_id: int, list_id: int) -> list[int]:
        """The subscriptions an alert of ``list_id`` (of ``agency_id``) may go to: those of the list and those of
        its purpose (whether each user may still see it is checked before each attempt)."""
        with self._gov.session() as session:
            hot_list = session.get(HotList, list_id)
            if hot_list is None or hot_list.agency_id != agency_id:
                return []
            rows = session.scalars(
                select(NotifySubscription.id).where(
                    NotifySubscription.agency_id == agency_id,
                    (NotifySubscription.hot_list_id == list_id)
                    | (NotifySubscription.purpose == hot_list.default_purpose),
                )
            )
            return list(rows)

    def deliverable(self, subscription_id: int, alert_id: int) -> Delivery | None:
        """The delivery of ``alert_id`` to the subscription, or None when it must not happen (any more): the
        subscription or alert is gone, the user is disabled, or may no longer see the alert (role, agency, a
        covert list's viewers, the list gone)."""
        with self._gov.session() as session:
            row = session.get(NotifySubscription, subscription_id)
            alert = session.get(Alert, alert_id)
            if row is None or alert is None:
                return None
            user = session.get(User, row.user_id)
            hot_list = session.get(HotList, alert.hot_list_id)
            if user is None or user.disabled or hot_list is None or user.agency_id != alert.agency_id:
                return None
            agency = session.get(Agency, user.agency_id)
            if agency is None:
                return None
            principal = principal_of(user, agency, None)
            if not allowed(principal, Action.ALERT_VIEW, alert.agency_id).allowed:
                return None
            if not allowed(principal, Action.NOTIFY_SUBSCRIBE, alert.agency_id).allowed:
                return None
            if not may_see(session, principal, hot_list):
                return None
            title, body = message(alert, hot_list.name, self.base_url)
            targets = [row.target] if row.channel == "email" else list(orjson.loads(row.target))
            return Delivery(row.id, row.channel, targets, title, body)

    def record_attempt(
        self, subscription_id: int, alert_id: int, attempt: int, *, status: str, error: str, next_attempt_ms: int | None
    ) -> None:
        """Log one attempt (``error`` already free of secrets)."""
        with self._gov.session() as session:
            if session.get(NotifySubscription, subscription_id) is None:
                return  # removed meanwhile, with its log
            session.add(
                NotifyDelivery(
                    subscription_id=subscription_id,
                    alert_id=alert_id,
                    attempt=attempt,
                    ts_ms=self._clock.now_ms(),
                    status=status,
                    error=error[:500],
                    next_attempt_ms=next_attempt_ms,
                )
            )
