"""The HTTP app factory: the API (``api/``) and the web UI (``web/``) mounted side by side on one FastAPI app, with
the metrics and health endpoints. Dependencies are explicit: the app gets an opened Platform and uses nothing else.

The API and the UI never import each other; what they share (the platform in the app's state) is in
``appstate.py``. The one choice between them is made here: a library error is answered as RFC 9457
problem+json (``api/problems.py``) everywhere except under the UI's prefix, where a person reads the same error
as a page (``web.error_page``).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Annotated, Any

import orjson
from fastapi import FastAPI, Header, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from plateledger import __version__, web
from plateledger.alerts.delivery import Broker
from plateledger.api import docs, openapi, problems
from plateledger.api.limits import BodyLimit, route_limits
from plateledger.api.metrics_auth import require_metrics_token
from plateledger.api.redact import install_log_filter, redact_path
from plateledger.api.request_log import RequestLog
from plateledger.api.routes import (
    admin,
    agencies,
    alerts,
    approvals,
    cameras,
    checkpoints,
    exports,
    hotlists,
    images,
    ingest,
    log,
    notify,
    operator,
    oversight,
    reads,
    search,
    sharing,
    subjects,
    transparency,
    webhooks,
)
from plateledger.core import timing
from plateledger.core.errors import PlateledgerError
from plateledger.platform import Platform


class _Observe:
    """Pure ASGI middleware counting requests and timing them per route, and by stage (``core.timing``: the
    stages the library timed, and ``other``, the rest of the request) (no per-request task switch). With
    ``server_timing`` the stages also go out in a ``Server-Timing`` header."""

    def __init__(
        self, app: ASGIApp, requests: Counter, latency: Histogram, stages: Histogram, server_timing: bool
    ) -> None:
        self.app = app
        self.requests = requests
        self.latency = latency
        self.stages = stages
        self.server_timing = server_timing

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500
        with timing.collect() as stages:

            async def send_status(message: Message) -> None:
                nonlocal status
                if message["type"] == "http.response.start":
                    status = message["status"]
                    if self.server_timing and stages:
                        header = (b"server-timing", timing.server_timing(timing.snapshot(stages, start)))
                        message["headers"] = [*message.get("headers", ()), header]
                await send(message)

            try:
                await self.app(scope, receive, send_status)
            finally:
                elapsed = time.perf_counter() - start
                route = getattr(scope.get("route"), "path", "unmatched")
                self.requests.labels(scope["method"], route, str(status)).inc()
                self.latency.labels(route).observe(elapsed)
                observed = timing.snapshot(stages)
                if observed:
                    inner = sum(v for k, v in observed.items() if k not in timing.OVERLAPPING)
                    for name, seconds in observed.items():
                        self.stages.labels(route, name).observe(seconds)
                    self.stages.labels(route, "other").observe(max(0.0, elapsed - inner))


def _metrics(app: FastAPI, platform: Platform, collectors: Sequence[Collector]) -> None:
    registry = CollectorRegistry()
    for collector in collectors:
        registry.register(collector)
    requests = Counter("plateledger_http_requests", "HTTP requests", ["method", "route", "status"], registry=registry)
    latency = Histogram("plateledger_http_request_seconds", "HTTP request latency", ["route"], registry=registry)
    stages = Histogram(
        "plateledger_request_stage_seconds",
        "Time of a request by stage (auth, gate, budget, store, store_wait, audit, audit_wait, audit_commit, answer, "
        "gc, other)",
        ["route", "stage"],
        buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
        registry=registry,
    )
    reads_total = Gauge("plateledger_reads_stored", "Reads in the store", registry=registry)
    silent = Gauge(
        "plateledger_cameras_silent",
        "Cameras with no read or heartbeat for longer than their silent interval, per agency",
        ["agency"],
        registry=registry,
    )
    ready = Gauge("plateledger_ready", "1 while every readiness check passes (GET /readyz)", registry=registry)
    ready_check = Gauge("plateledger_ready_check", "1 while this readiness check passes", ["check"], registry=registry)
    check_seconds = Gauge(
        "plateledger_ready_check_seconds", "How long the readiness check took", ["check"], registry=registry
    )
    broken_parts = Gauge(
        "plateledger_damaged_parts",
        "Reads-store parts detached as broken or failing their checksums",
        registry=registry,
    )
    reads_missing = Gauge(
        "plateledger_reads_missing", "Reads on record (audit log, read_keys) but not in the store", registry=registry
    )
    log_sizes = Gauge(
        "plateledger_log_size",
        "Audit log tree sizes: the tree now, the latest signed and the latest published checkpoint",
        ["of"],
        registry=registry,
    )
    log_age = Gauge(
        "plateledger_log_checkpoint_age_seconds",
        "Seconds since the latest published checkpoint was signed (-1 before the first)",
        registry=registry,
    )
    log_quorum = Gauge(
        "plateledger_log_quorum_met",
        "1 while the newest signed checkpoint met the witness quorum (0: no new checkpoint is being published)",
        registry=registry,
    )
    log_witness = Gauge(
        "plateledger_log_witness_cosigned",
        "1 if this witness cosigned the newest signed checkpoint",
        ["witness"],
        registry=registry,
    )
    engine = Gauge(
        "plateledger_reads_engine",
        "The reads store's engine since start: statements run, seconds it ran them, seconds callers waited for it",
        ["of"],
        registry=registry,
    )
    app.add_middleware(
        _Observe,
        requests=requests,
        latency=latency,
        stages=stages,
        server_timing=platform.settings.server_timing,
    )

    @app.get("/metrics", include_in_schema=False)
    def metrics(authorization: Annotated[str | None, Header()] = None) -> Response:
        require_metrics_token(platform.settings, authorization)
        use = platform.reads.engine_use()  # first: the checks below run statements of their own
        engine.labels("statements").set(use.statements)
        engine.labels("busy_seconds").set(use.busy_s)
        engine.labels("waited_seconds").set(use.waited_s)
        reads_total.set(platform.reads.count())
        silent.clear()
        for agency, count in platform.health.silent_counts().items():
            silent.labels(agency).set(count)
        readiness = platform.integrity.readiness()
        ready.set(int(readiness.ready))
        for check in readiness.checks:
            ready_check.labels(check.name).set(int(check.ok))
            check_seconds.labels(check.name).set(check.seconds)
        broken_parts.set(len(readiness.damage.broken) + len(readiness.damage.faults))
        reads_missing.set(readiness.damage.missing)
        log_witness.clear()
        try:
            log_status = platform.checkpoints.status()
        except PlateledgerError:  # the governance store is down: the readiness gauges above say so
            log_sizes.clear()
            log_quorum.set(0)
        else:
            log_sizes.labels("tree").set(log_status.tree_size)
            log_sizes.labels("signed").set(log_status.signed_size or 0)
            log_sizes.labels("published").set(log_status.published_size or 0)
            age = log_status.seconds_since_published
            log_age.set(age if age is not None else -1)
            log_quorum.set(int(log_status.quorum_met))
            for name, result in log_status.witnesses.items():
                log_witness.labels(name).set(int(bool(result.get("cosigned"))))
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)


def _errors(app: FastAPI, platform: Platform) -> None:
    """Every error: problem+json for the API (and any other path), the UI's error page (HTML, in its layout)
    under the UI's prefix: library errors, unknown addresses and methods, invalid requests and failures."""

    def ui(request: Request) -> bool:
        return request.url.path.startswith(web.UI_PREFIX)

    async def library_error(request: Request, error: Exception) -> Response:
        assert isinstance(error, PlateledgerError)
        if ui(request):
            return web.error_page(request, error, platform)
        return problems.problem_for(error, request.url.path)

    async def http_error(request: Request, error: Exception) -> Response:
        assert isinstance(error, StarletteHTTPException)
        if not ui(request):
            return problems.http_problem(request, error)
        response = web.status_page(request, platform, error.status_code, redact_path(request.url.path))
        if error.headers:
            response.headers.update(error.headers)
        return response

    async def invalid_request(request: Request, error: Exception) -> Response:
        assert isinstance(error, RequestValidationError)
        problem = problems.validation_problem(request, error)
        if not ui(request):
            return problem
        body = orjson.loads(problem.body)
        return web.status_page(request, platform, 422, body["instance"], detail=body["detail"])

    async def unexpected(request: Request, error: Exception) -> Response:
        problem = problems.unexpected_problem(request, error)  # logged there, with the request id
        if not ui(request):
            return problem
        response = web.status_page(request, platform, 500, redact_path(request.url.path))
        if "X-Request-ID" in problem.headers:
            response.headers["X-Request-ID"] = problem.headers["X-Request-ID"]
        return response

    app.add_exception_handler(PlateledgerError, library_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(RequestValidationError, invalid_request)
    app.add_exception_handler(Exception, unexpected)


def create_app(*, platform: Platform, collectors: Sequence[Collector] = ()) -> FastAPI:
    """The app over ``platform``; ``collectors`` (the metrics of workers running in the same process, such as the
    MQTT ingest worker) are added to ``/metrics``."""
    timing.watch_gc()  # collector pauses count as a stage of the request they interrupt
    app = FastAPI(
        title="Plateledger",
        version=__version__,
        description="ALPR data platform: every read leaves the store only through the policy gate, "
        "and every access is on a hash-chained audit log before it is answered.",
        docs_url=None,
        redoc_url=None,
    )
    app.state.platform = platform
    app.state.broker = Broker(platform.alerts, heartbeat_s=platform.settings.alert_heartbeat_s)
    problems.install(app)
    _errors(app, platform)
    openapi.install(app)
    install_log_filter()
    docs.install(app)
    _metrics(app, platform, collectors)
    settings = platform.settings
    app.add_middleware(BodyLimit, default=settings.max_request_bytes, routes=route_limits(settings))
    app.add_middleware(RequestLog)  # outermost of ours: the request id is set for every line of the request

    @app.get("/healthz", tags=["health"])
    def healthz() -> dict[str, Any]:
        """Liveness, with the audit log's checkpoints: the latest published and signed tree sizes, seconds since
        the last publication, and whether the witnesses' quorum is met (if not, why: no new checkpoint is being
        published)."""
        try:
            log: dict[str, Any] = platform.checkpoints.status().as_json()
        except PlateledgerError as error:  # liveness does not depend on the governance store: say it, answer 200
            log = {"error": error.detail}
        return {"status": "ok", "version": __version__, "log": log}

    # Not in the OpenAPI document (like /metrics): a probe's JSON, 503 while not ready, not a problem+json error.
    @app.get("/readyz", include_in_schema=False)
    def readyz() -> Response:
        """Readiness: each check named, with its result (503 while any fails; docs/operations.md)."""
        readiness = platform.integrity.readiness()
        return JSONResponse(readiness.as_json(), status_code=200 if readiness.ready else 503)

    for module in (
        reads, ingest, cameras, images, search, admin, sharing, agencies, transparency, hotlists, alerts, webhooks,
        operator, checkpoints, log, approvals, subjects, oversight, notify, exports,
    ):  # fmt: skip
        app.include_router(module.router)
    web.install(app, platform)
    return app
