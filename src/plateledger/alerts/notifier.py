"""The e-mail and push sender of ``plateledger serve``: a background thread that delivers each alert to the users
subscribed to it (:mod:`plateledger.alerts.subscriptions`).

:meth:`Notifier.offer` is the listener subscribed to ``Alerts``: it only queues the alert. The thread asks, before
each attempt, whether the subscription's user may still see the alert (nothing reaches a user who may not), sends
the message by SMTP (``smtp_*`` settings; TLS ``none``, ``starttls`` or ``tls``) or through Apprise, logs the
attempt in the subscription's delivery log, and retries a failed one after ``notify_retry_base_s``, doubled each
time, up to ``notify_max_attempts`` attempts (:class:`plateledger.alerts.worker.DeliveryWorker`).

An Apprise URL carries its service's token: an error is logged with every part of the URLs that could be secret
replaced by ``…``, and Apprise's own log records (which can quote a URL) are kept out of the server's log.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from typing import Any

import apprise

from plateledger.alerts.service import Alerts
from plateledger.alerts.subscriptions import Delivery, Subscriptions, scrub, secret_parts
from plateledger.alerts.worker import DeliveryWorker
from plateledger.core.clock import Clock
from plateledger.core.errors import ConfigurationError, FieldInvalid
from plateledger.core.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    tls: str
    sender: str
    timeout_s: float
    user: str | None = None
    password: str | None = None

    @classmethod
    def configured(cls, settings: Settings) -> SmtpConfig | None:
        """The SMTP settings, or None without ``smtp_host`` (ConfigurationError for an unreadable password file)."""
        if not settings.smtp_host or not settings.smtp_from:
            return None
        password = None
        if settings.smtp_password_file is not None:
            try:
                password = Path(settings.smtp_password_file).read_text().strip()
            except OSError as exc:
                raise ConfigurationError(f"smtp_password_file: cannot read it ({exc.strerror})") from None
        return cls(
            host=settings.smtp_host,
            port=settings.smtp_port,
            tls=settings.smtp_tls,
            sender=settings.smtp_from,
            timeout_s=settings.smtp_timeout_s,
            user=settings.smtp_user,
            password=password,
        )


def send_email(config: SmtpConfig, to: str, title: str, body: str) -> None:
    """One plain-text e-mail (smtplib.SMTPException or OSError when it fails)."""
    message = EmailMessage()
    message["From"] = config.sender
    message["To"] = to
    message["Subject"] = title
    message["Message-ID"] = make_msgid(domain=config.sender.rsplit("@", 1)[-1])
    message.set_content(body)
    context = ssl.create_default_context()
    smtp: smtplib.SMTP
    if config.tls == "tls":
        smtp = smtplib.SMTP_SSL(config.host, config.port, timeout=config.timeout_s, context=context)
    else:
        smtp = smtplib.SMTP(config.host, config.port, timeout=config.timeout_s)
    with smtp:
        if config.tls == "starttls":
            smtp.starttls(context=context)
        if config.user and config.password is not None:
            smtp.login(config.user, config.password)
        smtp.send_message(message)


class _Captured(logging.Handler):
    """Apprise's warnings about one notification (why it failed)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@dataclass
class _Job:
    subscription_id: int
    alert_id: int
    attempt: int = 1


class Notifier(DeliveryWorker[_Job]):
    name = "plateledger-notify"

    def __init__(self, alerts: Alerts, subscriptions: Subscriptions, settings: Settings, clock: Clock) -> None:
        super().__init__([alerts.subscribe])
        self._subscriptions = subscriptions
        self._clock = clock
        self.smtp = SmtpConfig.configured(settings)
        self.max_attempts = settings.notify_max_attempts
        self.base_s = settings.notify_retry_base_s
        # Apprise's records can quote a service URL (and its token): failures go to the delivery log, scrubbed.
        logging.getLogger("apprise").propagate = False

    def _expand(self, agency_id: int, body: dict[str, Any]) -> None:
        if "list" not in body:
            return  # an approval notice: not for subscriptions
        for subscription_id in self._subscriptions.for_alert(agency_id, int(body["list"]["id"])):
            self.schedule(_Job(subscription_id, int(body["id"])))

    def _send(self, delivery: Delivery) -> str:
        """Send once; the error (free of secrets), or "" when delivered."""
        if delivery.channel == "email":
            if self.smtp is None:
                return "e-mail is not configured on this server (smtp_host)"
            try:
                send_email(self.smtp, delivery.targets[0], delivery.title, delivery.body)
            except (smtplib.SMTPException, OSError) as exc:
                return f"{type(exc).__name__}: {exc}"
            return ""
        secrets = secret_parts(delivery.targets)
        try:
            for url in delivery.targets:  # checked again: a name's address can change
                self._subscriptions.check_push_url(url)
        except FieldInvalid as refused:
            return scrub(f"target refused: {refused.rule}", secrets)
        sender = apprise.Apprise()
        for url in delivery.targets:
            sender.add(url)
        captured = _Captured()
        apprise_log = logging.getLogger("apprise")
        apprise_log.addHandler(captured)
        try:
            ok = sender.notify(title=delivery.title, body=delivery.body)
        finally:
            apprise_log.removeHandler(captured)
        why = " ".join(" ".join(captured.lines).split())[:400]
        if ok:
            return ""
        return scrub(why or "not delivered", secrets)

    def _attempt(self, job: _Job) -> None:
        delivery = self._subscriptions.deliverable(job.subscription_id, job.alert_id)
        if delivery is None:
            return  # the user may no longer see it (or it is gone): nothing is sent, nothing logged
        error = self._send(delivery)
        if not error:
            status, retry_in = "delivered", None
        elif job.attempt < self.max_attempts:
            status, retry_in = "retrying", self.base_s * 2 ** (job.attempt - 1)
        else:
            status, retry_in = "failed", None
        if error:
            log.warning("notification of alert %s (subscription %s): %s", job.alert_id, job.subscription_id, error)
        self._subscriptions.record_attempt(
            job.subscription_id,
            job.alert_id,
            job.attempt,
            status=status,
            error=error,
            next_attempt_ms=self._clock.now_ms() + int(retry_in * 1000) if retry_in is not None else None,
        )
        if retry_in is not None:
            job.attempt += 1
            self.schedule(job, retry_in)
