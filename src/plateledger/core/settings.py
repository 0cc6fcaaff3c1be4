"""The one validated settings object. Built in ``main()`` or the app factory, never at import time.

Values come from keyword arguments (the CLI's flags), then ``PLATELEDGER_*`` environment variables, then a TOML
config file (``config``: ``--config FILE`` or ``PLATELEDGER_CONFIG``), then the defaults below. Unknown
``PLATELEDGER_*`` variables and unknown keys in the file are refused so a typo cannot silently leave a default in
force.
"""

from __future__ import annotations

import ipaddress
import os
import stat
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from plateledger.core import crashpoints
from plateledger.core.errors import ConfigurationError
from plateledger.core.logging import LogFormat, LogLevel

ENV_PREFIX = "PLATELEDGER_"
#: Variables read by the CLI, not settings of the instance (``PLATELEDGER_TOKEN``: the caller's API token).
CLI_ENV = frozenset({"PLATELEDGER_TOKEN"})
#: The audit log's origin in development; production refuses it (``log_origin``).
DEV_LOG_ORIGIN = "plateledger.invalid/audit"
#: Where development generates a log signing key when ``log_key_file`` is unset (never in production).
DEV_LOG_KEY_NAME = "DEVELOPMENT-ONLY-log-signing.key"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="forbid", frozen=True)

    data: Path = Field(
        Path("plateledger-data"),
        description="Data directory holding everything of one instance (reads store, governance DB, lock).",
    )
    database_url: str | None = Field(
        None,
        description="SQLAlchemy URL of the governance store; default: SQLite (WAL) at DATA/governance.db.",
    )
    environment: Literal["development", "production"] = Field(
        "development",
        description="In production, unsafe values (open binds without TLS proxy hints) are refused.",
    )
    host: str = Field("127.0.0.1", description="Address `plateledger serve` binds to.")
    port: int = Field(8000, ge=1, le=65535, description="Port `plateledger serve` binds to.")
    max_batch_reads: int = Field(10_000, ge=1, le=100_000, description="Most reads in one POST /api/v1/reads.")
    max_body_bytes: int = Field(
        16 * 1024 * 1024,
        ge=1024,
        le=256 * 1024 * 1024,
        description="Largest body of an ingest request (POST /api/v1/reads, /api/v1/ingest/{source}).",
    )
    max_request_bytes: int = Field(
        1024 * 1024,
        ge=1024,
        le=256 * 1024 * 1024,
        description="Largest request body of every other route (sign-in, forms, JSON requests); a larger one is "
        "refused with 413 before it is read. Hot-list imports take up to `hotlist_import_max_bytes`.",
    )
    max_read_bytes: int = Field(
        16 * 1024,
        ge=256,
        le=1024 * 1024,
        description="Largest accepted single read (one JSON object or line).",
    )
    future_tolerance_s: int = Field(
        300,
        ge=0,
        le=3600,
        description="A read stamped further than this in the future is rejected.",
    )
    token_ttl_days: int = Field(90, ge=1, le=3650, description="Default lifetime of new API tokens.")
    hotlist_max_entry_days: int = Field(
        365, ge=1, le=3650, description="Longest expiry a hot-list entry may be given, in days from when it is added."
    )
    hotlist_import_max_bytes: int = Field(
        32 * 1024 * 1024,
        ge=1024,
        le=1024 * 1024 * 1024,
        description="Largest hot-list file an import accepts, in bytes (a larger one is refused whole).",
    )
    hotlist_import_expiry_days: int = Field(
        7,
        ge=1,
        le=3650,
        description="Days an imported hot-list entry without its own expiry stays active (NCIC and CA DOJ extracts "
        "are daily; capped at `hotlist_max_entry_days`).",
    )
    ingest_chunk_reads: int = Field(
        1_000_000, ge=1_000, le=10_000_000, description="CSV rows per store insert during bulk file ingest."
    )
    ingest_chunk_bytes: int = Field(
        128 * 1024 * 1024,
        ge=1024 * 1024,
        le=1024 * 1024 * 1024,
        description="Bytes of JSONL per store insert during bulk file ingest (about 1M reads).",
    )
    quarantine_max_reads: int = Field(
        100_000,
        ge=0,
        le=10_000_000,
        description="Most reads one agency may hold in quarantine (reads from vendor camera ids it has not "
        "registered); further reads from unknown cameras are rejected until an admin maps or approves them.",
    )
    camera_silent_after_s: int = Field(
        3600,
        ge=60,
        le=30 * 86_400,
        description="Seconds without a read or heartbeat after which a camera is flagged silent (a camera's own "
        "`silent_after_s` overrides it).",
    )
    image_max_bytes: int = Field(
        2 * 1024 * 1024,
        ge=1024,
        le=64 * 1024 * 1024,
        description="Largest plate or overview image stored with a read; a larger one is not stored (the read is).",
    )
    search_page: int = Field(
        1_000, ge=1, le=1_000_000, description="Reads a search returns when it does not ask for a `limit`."
    )
    search_limit: int = Field(10_000, ge=1, le=1_000_000, description="Most reads one search may ask for.")
    approval_ttl_s: int = Field(
        3600,
        ge=60,
        le=7 * 86_400,
        description="Seconds an approved search stays usable after the supervisor approves it (docs/approval.md); "
        "it runs once, within this time, or is refused.",
    )
    retention_interval_s: int = Field(
        3600,
        ge=0,
        le=7 * 86_400,
        description="Seconds between the retention runs of `plateledger serve` (the first when it starts; "
        "0 disables them, leaving `plateledger retention run` to an external scheduler).",
    )

    audit_detail_retention_days: int | None = Field(
        None,
        ge=1,
        le=36_500,
        description="Days after which a retention run deletes the salts of audit entries: their private parts "
        "(user, plate, case, note, parameters) can then no longer be confirmed against the published Merkle "
        "leaves, while every leaf and proof stays valid. Unset keeps them forever.",
    )

    subject_request_plate_limit: int = Field(
        3,
        ge=1,
        le=1000,
        description='Subject requests ("is my plate held?") accepted for one plate per `subject_request_window_hours`; '
        "more are refused with 429, the same whether or not the plate is held.",
    )
    subject_request_client_limit: int = Field(
        5,
        ge=1,
        le=10_000,
        description="Subject requests accepted from one client address per `subject_request_window_hours`.",
    )
    subject_request_window_hours: int = Field(
        24 * 30,
        ge=1,
        le=24 * 366,
        description="The window of the subject-request rate limits, in hours (default 30 days).",
    )

    login_max_failures: int = Field(
        5,
        ge=1,
        le=100,
        description="Failed sign-ins (web or API) of one username from one client address after which that "
        "address is locked out for that username (others, and that username from elsewhere, are not).",
    )
    login_lockout_minutes: int = Field(
        15,
        ge=1,
        le=7 * 24 * 60,
        description="Length of the first lockout; each further lockout of the same address doubles it (up to a day).",
    )
    login_client_max_failures: int = Field(
        50,
        ge=1,
        le=10_000,
        description="Failed sign-ins of one client address across all usernames after which the address is locked "
        "out for every username (password spraying).",
    )
    trusted_proxies: list[str] = Field(
        [],
        max_length=100,
        description='CIDRs of reverse proxies whose `X-Forwarded-For` names the client (e.g. `["10.0.0.0/8"]`); '
        "empty: the socket peer is the client and the header is ignored.",
    )
    web_session_hours: int = Field(
        12, ge=1, le=30 * 24, description="Lifetime of a web sign-in session (then the user signs in again)."
    )
    map_tile_url: str | None = Field(
        None,
        description="Map tile URL template with {z}, {x} and {y} for the web UI's maps (e.g. your own tile server); "
        "unset (offline): cameras, reads and paths are drawn on a plain background.",
        pattern=r"^https?://[^\s\"'<>]+\{z\}[^\s\"'<>]*$",
        max_length=300,
    )
    map_tile_attribution: str = Field(
        "© OpenStreetMap contributors",
        min_length=1,
        max_length=200,
        description="Attribution shown on the web UI's maps (tiles from `map_tile_url`, camera positions).",
    )
    pdf_font: Path = Field(
        Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"),
        description="TrueType font of PDF case packets (Debian's fonts-dejavu-core): text in any script it covers "
        "is written as is; a character it lacks, or any outside Latin-1 when the file is missing (then Helvetica), "
        "is written as [U+XXXX].",
    )
    leaflet_dir: Path = Field(
        Path("/usr/share/javascript/leaflet"),
        description="Directory holding leaflet.js and leaflet.css (Debian's libjs-leaflet, installed by "
        "`make setup`), served by the web UI under /ui/vendor/leaflet/.",
    )

    metrics_token: SecretStr | None = Field(
        None,
        min_length=32,
        max_length=256,
        description="Bearer token a Prometheus scraper presents on GET /metrics (the metrics hold every agency's "
        "figures, so no agency user's token opens them); unset: /metrics refuses every request (401).",
    )
    server_timing: bool = Field(
        False,
        description="Add a `Server-Timing` header to every HTTP answer: the server's time by stage (auth, gate, "
        "budget, store, store_wait, audit, audit_wait, audit_commit, answer, gc, total; docs/benchmarks.md), for "
        "benchmarks and profiling. "
        "Off by default: the stages of /metrics' `plateledger_request_stage_seconds` are always kept.",
    )
    operator_token: SecretStr | None = Field(
        None,
        min_length=32,
        max_length=256,
        description="Bearer token of the instance's operator for POST /api/v1/operator/backup (a backup holds every "
        "agency's data, so no agency user's token may ask for one); `plateledger backup` presents it when a server "
        "holds the data directory. Unset: the server makes no backups.",
    )

    alert_heartbeat_s: float = Field(
        15.0, ge=0.05, le=300, description="Seconds between heartbeat comments on an idle alert stream (SSE)."
    )
    mqtt_alerts_url: str | None = Field(
        None,
        description="Publish alerts to this MQTT broker (mqtt://[user:password@]host[:port]) from `plateledger serve`;"
        " unset: no MQTT.",
    )
    mqtt_alerts_topic: str = Field(
        "plateledger", min_length=1, max_length=100, description="Topic prefix: alerts go to PREFIX/AGENCY/alerts."
    )
    mqtt_ingest_url: str | None = Field(
        None,
        description="Ingest Frigate's license plate messages from this MQTT broker (mqtt://[user:password@]host[:port])"
        " inside `plateledger serve` (needs `mqtt_ingest_token`); unset: no MQTT ingest in serve.",
    )
    mqtt_ingest_token: str | None = Field(
        None,
        description="Device token the MQTT ingest worker stores reads with: its agency owns every read received.",
    )
    mqtt_ingest_topic: str = Field(
        "frigate",
        min_length=1,
        max_length=100,
        description="Frigate's MQTT topic prefix: the worker subscribes to PREFIX/tracked_object_update and "
        "PREFIX/events.",
    )
    mqtt_ingest_quiet_s: float = Field(
        5.0,
        ge=0.1,
        le=600,
        description="Seconds without a new plate after which a tracked vehicle's best plate is stored as its read "
        "(a vehicle is stored at once when Frigate ends its event).",
    )
    webhook_max_attempts: int = Field(
        5, ge=1, le=20, description="Attempts to deliver one alert to one webhook before giving up on it."
    )
    webhook_retry_base_s: float = Field(
        2.0,
        ge=0.01,
        le=3600,
        description="Delay before the first webhook retry; doubled for each further attempt (exponential backoff).",
    )
    webhook_allow_loopback: bool = Field(
        False,
        description="Development only (refused in production): let webhooks use http:// and loopback targets "
        "(127.0.0.0/8, ::1), for a local receiver, and push notifications (Apprise URLs) reach loopback hosts. "
        "Otherwise a webhook must be https:// to a public address, and a push target's host a public address.",
    )
    webhook_timeout_s: float = Field(5.0, ge=0.1, le=60, description="Timeout of one webhook POST.")
    webhook_disable_after: int = Field(
        20,
        ge=1,
        le=1000,
        description="Consecutive failed webhook attempts after which the webhook is disabled (an admin re-enables it).",
    )
    # -- alert notifications by e-mail and push (docs/alerts.md, "E-mail and push notifications") --
    public_url: str | None = Field(
        None,
        pattern=r"^https?://[^\s\"'<>/]+(/[^\s\"'<>]*)?$",
        max_length=300,
        description="Address people open the web UI at, e.g. `https://plateledger.example-city.gov` (the link to "
        "an alert in e-mail and push notifications); unset: http://HOST:PORT of `plateledger serve`.",
    )
    smtp_host: str | None = Field(
        None, max_length=253, description="SMTP server alert e-mails are sent through; unset: no e-mail notifications."
    )
    smtp_port: int = Field(587, ge=1, le=65535, description="Port of `smtp_host`.")
    smtp_tls: Literal["none", "starttls", "tls"] = Field(
        "starttls",
        description="How the SMTP connection is secured: `starttls` (upgrade after connecting, port 587), `tls` "
        "(TLS from the start, port 465) or `none` (a local relay only).",
    )
    smtp_user: str | None = Field(None, max_length=200, description="User name for SMTP authentication (unset: none).")
    smtp_password_file: Path | None = Field(
        None, description="File holding the SMTP password (needed with `smtp_user`); the password is never logged."
    )
    smtp_from: str | None = Field(
        None,
        max_length=254,
        pattern=r"^[^@\s<>]+@[^@\s<>]+$",
        description="Sender address of alert e-mails (required with `smtp_host`).",
    )
    smtp_timeout_s: float = Field(10.0, ge=0.1, le=120, description="Timeout of one SMTP connection and exchange.")
    notify_max_attempts: int = Field(
        5, ge=1, le=20, description="Attempts to deliver one alert to one e-mail or push subscription."
    )
    notify_retry_base_s: float = Field(
        5.0,
        ge=0.01,
        le=3600,
        description="Delay before the first retry of a failed notification; doubled for each further attempt.",
    )
    mqtt_discovery: bool = Field(
        False,
        description="With `mqtt_alerts_url`: publish retained Home Assistant MQTT discovery configs (an `event` and "
        "a `sensor` per agency's alert topic) under `mqtt_discovery_prefix`.",
    )
    mqtt_discovery_prefix: str = Field(
        "homeassistant",
        min_length=1,
        max_length=100,
        pattern=r"^[A-Za-z0-9_/-]+$",
        description="Home Assistant's MQTT discovery prefix.",
    )
    # -- integrity and readiness (docs/operations.md, "Damage and readiness") --
    ready_min_free_bytes: int = Field(
        1 << 30,
        ge=0,
        description="GET /readyz fails while the data directory's disk has less free space than this (bytes).",
    )
    integrity_check_interval_s: int = Field(
        3600,
        ge=0,
        le=7 * 86400,
        description="How often GET /readyz re-verifies every reads-store part's checksums (CHECK TABLE, which "
        "reads the whole store); 0: on every call. Detached (broken) parts are looked for on every call.",
    )

    # -- the verifiable audit log (docs/operations.md, "Signed checkpoints and witnesses") ---------------------
    log_origin: str = Field(
        DEV_LOG_ORIGIN,
        min_length=1,
        max_length=200,
        pattern=r"^[^\s+]+$",
        description="The audit log's origin: the first line of every checkpoint and the name of the log's signing "
        "key, e.g. `plateledger.example-city.gov/audit` (no spaces or `+`). The default is for development only: "
        "production refuses it.",
    )
    log_key_file: Path | None = Field(
        None,
        description="File holding the log's Ed25519 signing key (`plateledger log init-key`), outside the data "
        "directory and readable by its owner only (mode 0600). Required in production; in development without "
        "one, a key is generated at DATA/DEVELOPMENT-ONLY-log-signing.key.",
    )
    witness_policy_file: Path | None = Field(
        None,
        description="tlog-policy file naming the witnesses (`witness <name> <vkey> <url>`), groups and the "
        "`quorum` a checkpoint needs before it is published; unset: no witnesses, quorum none (a checkpoint is "
        "published once the log has signed it).",
    )
    checkpoint_every_entries: int = Field(
        256,
        ge=1,
        le=1_000_000,
        description="`plateledger serve` signs a checkpoint as soon as this many audit entries were added since "
        "the last one.",
    )
    checkpoint_interval_s: int = Field(
        60,
        ge=0,
        le=86_400,
        description="`plateledger serve` signs a checkpoint this many seconds after the last one when entries were "
        "added meanwhile, and retries witnesses of an unpublished one (0: only every `checkpoint_every_entries` "
        "entries and on demand).",
    )
    checkpoint_stale_s: int = Field(
        600,
        ge=1,
        le=7 * 86_400,
        description="GET /readyz fails while an audit entry older than this many seconds is in no published "
        "(witnessed) checkpoint: the checkpoint job stopped, or the witnesses' quorum is not met. Keep it above "
        "`checkpoint_interval_s` (and, with that at 0, above the time the log takes to gather "
        "`checkpoint_every_entries` entries).",
    )

    # -- running it (docs/operations.md, "Running it") --------------------------------------------------------
    config: Path | None = Field(
        None,
        description="TOML file of settings (`plateledger --config FILE`), one `name = value` per setting; unknown "
        "names are refused. A CLI flag overrides the environment, which overrides the file, which overrides the "
        "defaults.",
    )
    log_level: LogLevel = Field(
        "info",
        description="Least severe log records written: debug, info (with the access log), warning, error or critical.",
    )
    log_format: LogFormat = Field(
        "auto",
        description="Log records on stderr: `json` (one JSON object per line, tracebacks in a field), `text` (for "
        "people), or `auto` (text on a terminal, json otherwise).",
    )
    shutdown_timeout_s: int = Field(
        10,
        ge=1,
        le=600,
        description="On SIGTERM or Ctrl-C, `plateledger serve` lets requests in flight finish for this long, then "
        "stops its workers and closes the stores; if that is not done within the same time again (a stuck "
        "database), it exits at once with status 1, as after a crash, which the stores recover from.",
    )
    progress_interval_s: float = Field(
        10.0,
        ge=0.1,
        le=3600,
        description="Seconds between the progress lines long CLI commands (`ingest`, `demo`) print on stderr "
        "when it is not a terminal (on a terminal they draw a progress bar).",
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Keyword arguments, then the environment, then the config file."""
        named = getattr(init_settings, "init_kwargs", {}).get("config") or os.environ.get(ENV_PREFIX + "CONFIG")
        return init_settings, env_settings, _ConfigFile(settings_cls, Path(named) if named else None)

    @field_validator("log_level", "log_format", mode="before")
    @classmethod
    def _lower_case(cls, value: Any) -> Any:
        return value.lower() if isinstance(value, str) else value  # LOG_LEVEL=INFO, as operators write it

    @field_validator("trusted_proxies")
    @classmethod
    def _cidrs(cls, value: list[str]) -> list[str]:
        for cidr in value:
            try:
                ipaddress.ip_network(cidr.strip(), strict=False)
            except ValueError:
                raise ValueError(f"not a CIDR or address: {cidr[:60]!r}") from None
        return value

    @model_validator(mode="after")
    def _refuse_unsafe(self) -> Settings:
        if self.environment == "production" and self.host in {"0.0.0.0", "::"}:  # noqa: S104
            raise ValueError("host: binding all interfaces in production is refused; bind 127.0.0.1 behind a TLS proxy")
        if self.environment == "production" and self.webhook_allow_loopback:
            raise ValueError("webhook_allow_loopback: refused in production (webhooks go to public https:// only)")
        if self.environment == "production" and os.environ.get(crashpoints.POINT_ENV):
            raise ValueError(f"{crashpoints.POINT_ENV}: a test hook, refused in production")
        if self.environment == "production":
            _check_production_log_key(self)
        if self.smtp_host and not self.smtp_from:
            raise ValueError("smtp_from: required when smtp_host is set (the sender address of alert e-mails)")
        if self.smtp_user and not self.smtp_password_file:
            raise ValueError("smtp_password_file: required when smtp_user is set")
        if self.mqtt_ingest_url and not self.mqtt_ingest_token:
            raise ValueError("mqtt_ingest_token: required when mqtt_ingest_url is set (a device token of the owner)")
        return self

    @property
    def governance_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data / 'governance.db'}"

    @property
    def reads_dir(self) -> Path:
        return self.data / "reads"

    @property
    def images_dir(self) -> Path:
        return self.data / "images"

    @property
    def dev_log_key_file(self) -> Path:
        """Where development keeps the log key it generated (``log_key_file`` unset)."""
        return self.data / DEV_LOG_KEY_NAME


def _check_production_log_key(settings: Settings) -> None:
    """Production signs checkpoints with an operator-made key, kept where neither a backup of the data directory
    nor another local user can read it, under a real origin."""
    if settings.log_origin == DEV_LOG_ORIGIN:
        raise ValueError(
            f"log_origin: the development origin {DEV_LOG_ORIGIN} is refused in production; name your log "
            "(e.g. plateledger.example-city.gov/audit)"
        )
    key = settings.log_key_file
    if key is None:
        raise ValueError(
            "log_key_file: required in production (make one with `plateledger log init-key --origin ORIGIN --out "
            "FILE`, outside the data directory)"
        )
    resolved = key.expanduser().resolve()
    if resolved.is_relative_to(settings.data.expanduser().resolve()):
        raise ValueError(f"log_key_file: {key} is inside the data directory; keep the signing key outside it")
    try:
        mode = resolved.stat().st_mode
    except OSError as exc:
        raise ValueError(f"log_key_file: cannot read {key} ({exc.strerror})") from None
    if not stat.S_ISREG(mode):
        raise ValueError(f"log_key_file: {key} is not a regular file")
    if mode & 0o077:
        raise ValueError(
            f"log_key_file: {key} has mode {stat.S_IMODE(mode):04o}; group and others must have no access "
            f"(chmod 600 {key})"
        )


class _ConfigFile(PydanticBaseSettingsSource):
    """The settings of a TOML file: top-level ``name = value`` pairs, named as the settings are."""

    def __init__(self, settings_cls: type[BaseSettings], path: Path | None) -> None:
        super().__init__(settings_cls)
        self.path = path

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # not used: __call__ returns the whole file

    def __call__(self) -> dict[str, Any]:
        if self.path is None:
            return {}
        try:
            with self.path.open("rb") as handle:
                values = tomllib.load(handle)
        except OSError as exc:
            raise ConfigurationError(f"config file {self.path}: cannot read it ({exc.strerror})") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigurationError(f"config file {self.path}: not valid TOML: {exc}") from None
        unknown = sorted(k for k in values if k not in Settings.model_fields or k == "config")
        if unknown:
            raise ConfigurationError(f"config file {self.path}: unknown setting(s): {', '.join(unknown)}")
        return values


def load_settings(**overrides: Any) -> Settings:
    """Build and validate settings; unknown PLATELEDGER_* variables and bad values raise ConfigurationError."""
    known = {ENV_PREFIX + name.upper() for name in Settings.model_fields}
    unknown = sorted(k for k in os.environ if k.startswith(ENV_PREFIX) and k not in known)
    unknown = [k for k in unknown if not k.startswith(ENV_PREFIX + "TEST_") and k not in CLI_ENV]
    if unknown:
        raise ConfigurationError(f"unknown setting(s) in the environment: {', '.join(unknown)}")
    clean = {k: v for k, v in overrides.items() if v is not None}
    try:
        return Settings(**clean)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "settings"
        named = clean.get("config") or os.environ.get(ENV_PREFIX + "CONFIG")
        if (
            named
            and where in Settings.model_fields
            and where not in clean
            and ENV_PREFIX + where.upper() not in os.environ
        ):
            where = f"config file {named}: {where}"  # the value can only have come from the file
        raise ConfigurationError(f"{where}: {first['msg']}") from None
