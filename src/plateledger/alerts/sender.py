"""The webhook sender of ``plateledger serve``: a background thread that POSTs each alert to its agency's webhooks.

:meth:`WebhookSender.offer` is the listener subscribed to ``Alerts``: it only puts the alert on a queue, so
ingest never waits for a receiver. The thread signs each body (:func:`plateledger.alerts.webhooks.sign`), checks
the target again and sends to the address it checked (:mod:`plateledger.alerts.targets`: DNS may have changed),
logs every attempt in the delivery log, retries a failed one after ``base_s``, ``2 × base_s``, ``4 × base_s`` … up
to ``max_attempts`` attempts (the thread and its schedule: :class:`plateledger.alerts.worker.DeliveryWorker`), and
stops sending to a webhook once it is disabled (after ``disable_after`` consecutive failed attempts). Retries
pending when the server stops are not resumed by the next one.

With ``approvals``, it also listens to :meth:`Approvals.subscribe`: the notice of a search held for approval or a
break-glass search that ran (:mod:`plateledger.approvals.notices`) goes the same way, signed, retried and logged, to
every enabled webhook of the approving agency (``X-Plateledger-Event`` says which: ``alert``, or the notice's
``event``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import httpx2
import orjson

from plateledger.alerts.service import Alerts
from plateledger.alerts.webhooks import Target, Webhooks, sign
from plateledger.alerts.worker import DeliveryWorker, Source
from plateledger.approvals.notices import NOTICE_EVENTS
from plateledger.approvals.service import Approvals
from plateledger.core.clock import Clock
from plateledger.core.errors import FieldInvalid
from plateledger.core.settings import Settings

USER_AGENT = "plateledger-webhooks"


@dataclass
class _Job:
    target: Target
    alert_id: int | None
    body: bytes
    attempt: int = 1
    #: An approval notice's request (``alert_id`` None), and its event.
    request_id: int | None = None
    event: str = "alert"


class WebhookSender(DeliveryWorker[_Job]):
    name = "plateledger-webhooks"

    def __init__(
        self,
        alerts: Alerts,
        webhooks: Webhooks,
        settings: Settings,
        clock: Clock,
        *,
        transport: httpx2.BaseTransport | None = None,
        approvals: Approvals | None = None,
    ) -> None:
        sources: list[Source] = [alerts.subscribe] + ([approvals.subscribe] if approvals is not None else [])
        super().__init__(sources)
        self._webhooks = webhooks
        self._clock = clock
        self.max_attempts = settings.webhook_max_attempts
        self.base_s = settings.webhook_retry_base_s
        self.disable_after = settings.webhook_disable_after
        self._client = httpx2.Client(
            timeout=settings.webhook_timeout_s,
            transport=transport,
            headers={"User-Agent": USER_AGENT},
            follow_redirects=False,  # a redirect could point anywhere, past the target check
        )

    def _close(self) -> None:
        self._client.close()

    def _expand(self, agency_id: int, alert: dict[str, Any]) -> None:
        body = orjson.dumps(alert)
        if alert.get("event") in NOTICE_EVENTS:
            request_id, event = int(alert["request"]), str(alert["event"])
            for target in self._webhooks.notice_targets(agency_id):
                self.schedule(_Job(target, None, body, request_id=request_id, event=event))
            return
        for target in self._webhooks.targets(agency_id, alert["list"]["id"]):
            self.schedule(_Job(target, alert["id"], body))

    def _attempt(self, job: _Job) -> None:
        if not self._webhooks.enabled(job.target.webhook_id):
            return
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            "X-Plateledger-Timestamp": timestamp,
            "X-Plateledger-Signature": sign(job.target.secret, timestamp, job.body),
            "X-Plateledger-Event": job.event,
            "X-Plateledger-Attempt": str(job.attempt),
        }
        if job.alert_id is not None:
            headers["X-Plateledger-Alert"] = str(job.alert_id)
        if job.request_id is not None:
            headers["X-Plateledger-Approval"] = str(job.request_id)
        code: int | None = None
        error = ""
        try:
            # Checked again now (DNS may have changed since registration) and sent to the address checked.
            pinned = self._webhooks.guard.pin(job.target.url)
            response = self._client.post(
                pinned.url,
                content=job.body,
                headers={**headers, "Host": pinned.host},
                extensions={"sni_hostname": pinned.server_name},
            )
            code = response.status_code
            if not 200 <= code < 300:
                error = f"HTTP {code}"
        except FieldInvalid as refused:
            error = f"target refused: {refused.rule}"
        except (httpx2.HTTPError, OSError) as exc:
            error = f"{type(exc).__name__}: {exc}"
        if not error:
            status, retry_in = "delivered", None
        elif job.attempt < self.max_attempts:
            status, retry_in = "retrying", self.base_s * 2 ** (job.attempt - 1)
        else:
            status, retry_in = "failed", None
        enabled = self._webhooks.record_attempt(
            job.target.webhook_id,
            job.alert_id,
            job.attempt,
            status=status,
            response_code=code,
            error=error,
            next_attempt_ms=self._clock.now_ms() + int(retry_in * 1000) if retry_in is not None else None,
            disable_after=self.disable_after,
            approval_request_id=job.request_id,
        )
        if retry_in is not None and enabled:
            job.attempt += 1
            self.schedule(job, retry_in)
