"""The webhook sender of ``plateledger serve``: a background thread that POSTs each alert to its agency's webhooks.

:meth:`WebhookSender.offer` is the listener subscribed to ``Alerts``: it only puts the alert on a queue, so
ingest never waits for a receiver. The thread signs each body (:func:`plateledger.alerts.webhooks.sign`), checks
the target again and sends to the address it checked (:mod:`plateledger.alerts.targets`: DNS may have changed),
logs every attempt in the delivery log, retries a failed one after ``base_s``, ``2 × base_s``, ``4 × base_s`` … up
to ``max_attempts`` attempts, and stops sending to a webhook once it is disabled (after ``disable_after``
consecutive failed attempts). Retries pending when the server stops are not resumed by the next one.

With ``approvals``, it also listens to :meth:`Approvals.subscribe`: the notice of a search held for approval or a
break-glass search that ran (:mod:`plateledger.approvals.notices`) goes the same way, signed, retried and logged, to
every enabled webhook of the approving agency (``X-Plateledger-Event`` says which: ``alert``, or the notice's
``event``).
"""

from __future__ import annotations

import heapq
import itertools
import logging
import queue
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import httpx2
import orjson

from plateledger.alerts.service import Alerts
from plateledger.alerts.webhooks import Target, Webhooks, sign
from plateledger.approvals.notices import NOTICE_EVENTS
from plateledger.approvals.service import Approvals
from plateledger.core.clock import Clock
from plateledger.core.errors import FieldInvalid
from plateledger.core.settings import Settings

log = logging.getLogger(__name__)
USER_AGENT = "plateledger-webhooks"


@dataclass(order=True)
class _Job:
    due: float
    seq: int
    target: Target = field(compare=False)
    alert_id: int | None = field(compare=False)
    body: bytes = field(compare=False)
    attempt: int = field(compare=False, default=1)
    #: An approval notice's request (``alert_id`` None), and its event.
    request_id: int | None = field(compare=False, default=None)
    event: str = field(compare=False, default="alert")


class WebhookSender:
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
        self._alerts = alerts
        self._approvals = approvals
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
        self._incoming: queue.Queue[tuple[int, dict[str, Any]] | None] = queue.Queue()
        self._jobs: list[_Job] = []
        self._seq = itertools.count()
        self._busy = False
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._subscribed = False

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("webhook sender already started")
        if not self._subscribed:
            self._alerts.subscribe(self.offer)
            if self._approvals is not None:
                self._approvals.subscribe(self.offer)
            self._subscribed = True
        self._stopping.clear()
        self._thread = threading.Thread(target=self._loop, name="plateledger-webhooks", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop after the attempt in progress; pending retries are dropped."""
        self._stopping.set()
        self._incoming.put(None)
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self._client.close()

    def offer(self, agency_id: int, body: dict[str, Any]) -> None:
        """The ``Alerts`` (and ``Approvals``) listener: queue the alert or notice (never blocks)."""
        if not self._stopping.is_set():
            self._incoming.put((agency_id, body))

    def idle(self) -> bool:
        """Nothing queued, scheduled or being sent (for tests and shutdown)."""
        return self._incoming.unfinished_tasks == 0 and not self._jobs and not self._busy

    def wait_idle(self, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.idle():
                return True
            time.sleep(0.01)
        return self.idle()

    def _loop(self) -> None:
        while not self._stopping.is_set():
            wait = max(0.0, self._jobs[0].due - time.monotonic()) if self._jobs else None
            got = True
            try:
                item = self._incoming.get(timeout=wait)
            except queue.Empty:
                item, got = None, False
            self._busy = True
            try:
                if item is not None:
                    self._expand(*item)
                while self._jobs and self._jobs[0].due <= time.monotonic() and not self._stopping.is_set():
                    self._attempt(heapq.heappop(self._jobs))
            except Exception:  # a store failure: logged; the server keeps serving
                log.exception("webhook sender: delivery failed")
            finally:
                self._busy = False
                if got:
                    self._incoming.task_done()

    def _expand(self, agency_id: int, alert: dict[str, Any]) -> None:
        body = orjson.dumps(alert)
        if alert.get("event") in NOTICE_EVENTS:
            request_id, event = int(alert["request"]), str(alert["event"])
            for target in self._webhooks.notice_targets(agency_id):
                job = _Job(time.monotonic(), next(self._seq), target, None, body, request_id=request_id, event=event)
                heapq.heappush(self._jobs, job)
            return
        for target in self._webhooks.targets(agency_id, alert["list"]["id"]):
            heapq.heappush(self._jobs, _Job(time.monotonic(), next(self._seq), target, alert["id"], body))

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
            job.due, job.seq, job.attempt = time.monotonic() + retry_in, next(self._seq), job.attempt + 1
            heapq.heappush(self._jobs, job)
