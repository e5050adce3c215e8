"""Gateway configuration: one YAML file, validated by pydantic, loaded once.

Relative paths in the file are resolved against the file's own folder, so a
configuration and its data travel together. Secrets are never in the file:
options whose name ends in ``_env`` name an environment variable.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from gateway._yaml import DuplicateKey, Marks, load_with_marks, where
from gateway.alerts.settings import AlertSettings
from gateway.circuits import CircuitSettings
from gateway.metrics.settings import MetricsSettings
from gateway.msgjournal.settings import JournalSettings
from gateway.tls.settings import ServerTlsSettings
from gateway.trace.settings import TraceSettings

__all__ = [
    "MEMORY",
    "ConfigError",
    "Examined",
    "Marks",
    "Settings",
    "examine",
    "load",
    "load_checked",
    "missing_secrets",
    "where",
]


#: The SQLite location that is memory, not a file (as an adapter's ``database`` option).
MEMORY = ":memory:"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Enforcement(enum.StrEnum):
    OFF = "off"
    WARN = "warn"
    ENFORCE = "enforce"


class JwtKey(_Section):
    """A key that verifies signed tokens: a shared secret or a public key."""

    kid: str | None = None
    algorithm: str = "RS256"
    #: Environment variable holding an HMAC secret (HS256/384/512).
    secret_env: str | None = None
    #: PEM file holding a public key (RS*/ES*/PS*).
    public_key_file: Path | None = None


class JwtSettings(_Section):
    #: fs_authentication.md: consumers send unsigned ``alg: none`` tokens today.
    allow_unsigned: bool = True
    keys: tuple[JwtKey, ...] = ()
    #: fs_authentication.md: exp is iat + 5 minutes.
    max_lifetime_s: int = 300
    clock_skew_s: int = 30
    #: Further audiences accepted besides the service root (e.g. an old host name).
    extra_audiences: tuple[str, ...] = ()


class SspSettings(_Section):
    enforcement: Enforcement = Enforcement.WARN
    #: This gateway's ASID; when set, Ssp-To must equal it.
    asid: str | None = None

    @field_validator("enforcement", mode="before")
    @classmethod
    def _yaml_off(cls, value: object) -> object:
        # YAML 1.1 reads a bare `off` as false (and `on` as true).
        if value is False:
            return Enforcement.OFF
        if value is True:
            return Enforcement.ENFORCE
        return value


class SecuritySettings(_Section):
    jwt: JwtSettings = JwtSettings()
    ssp: SspSettings = SspSettings()


class StoreSettings(_Section):
    """Where the gateway keeps versions, the ledger, referrals and the audit.

    ``sqlite``: one file (``path``) for one machine. ``postgresql``: one database shared
    by every replica (DESIGN.md, Scale), at ``dsn``; the password is never in the file:
    ``password_env`` names the environment variable that holds it.
    """

    kind: Literal["sqlite", "postgresql"] = "sqlite"
    path: Path = Path("var/gateway.sqlite3")
    #: postgresql: e.g. ``postgresql://gateway@db.example:5432/gateway`` (no password).
    dsn: str | None = None
    #: postgresql: the environment variable holding the password (none: trust, peer, or
    #: ``~/.pgpass``).
    password_env: str | None = None
    #: postgresql: the schema (search_path) holding the tables; the server's default if unset.
    schema_name: str | None = Field(default=None, pattern=r"^[a-z_][a-z0-9_]{0,62}$")
    #: postgresql: most connections this gateway process holds.
    pool_size: int = Field(default=5, ge=1, le=100)
    #: postgresql: longest one statement (a lock wait included) may take before it is
    #: cancelled and answered as the store briefly unavailable (transient, resend).
    statement_timeout_s: float = Field(default=10.0, gt=0, le=600)
    #: How long a booking's idempotency claim outlives its holder: a gateway renews it
    #: while it works, so a resend after a crash is resolved this long after the crash.
    claim_lease_s: float = Field(default=5.0, ge=0.5, le=600)

    @property
    def in_memory(self) -> bool:
        """``path: ":memory:"``: an SQLite store in this process's memory, not a file."""
        return self.kind == "sqlite" and str(self.path) == MEMORY

    @model_validator(mode="after")
    def _postgresql_needs_a_dsn(self) -> StoreSettings:
        if self.kind != "postgresql":
            return self
        if not self.dsn:
            raise ValueError(
                "store kind 'postgresql' needs dsn (e.g. postgresql://gateway@db:5432/gateway)"
            )
        parts = urlsplit(self.dsn)
        if parts.scheme not in {"postgresql", "postgres"}:
            raise ValueError("store dsn must start with postgresql://")
        if parts.password is not None:
            raise ValueError(
                "store dsn must not hold a password: name an environment variable in password_env"
            )
        return self


class LogSettings(_Section):
    format: str = "json"
    level: str = "info"


class ServerSettings(_Section):
    host: str = "127.0.0.1"
    port: int = 8080
    #: Public service root, no trailing slash; also the JWT audience (fs_authentication.md).
    service_root: str = "http://127.0.0.1:8080/STU3/1/careconnect/appointment"
    #: Time budget for one request's work at the supplier.
    request_timeout_s: float = 10.0
    max_body_bytes: int = 1_000_000
    #: Most Slots one search answers (its ``_count`` is capped to it); a ``next`` link
    #: continues (search_slots.md: paging MAY be implemented).
    max_slots_per_page: int = Field(default=200, ge=1, le=10_000)
    #: Environment variable holding the token for POST /admin/reload (disabled if unset).
    admin_token_env: str | None = None
    #: Processes serving the port (``serve --workers N`` overrides it): 1 is one process
    #: and no supervisor; more share every listener (``gateway/workers/``). An integer,
    #: not a string or a boolean.
    workers: int = Field(default=1, ge=1, strict=True)
    #: HTTPS on this listener, optionally verifying client certificates (gateway/tls/).
    tls: ServerTlsSettings | None = None

    @field_validator("service_root")
    @classmethod
    def _no_trailing_slash(cls, value: str) -> str:
        # implementation_api.md: the Service Root URL SHALL NOT contain a trailing '/'.
        if value.endswith("/"):
            raise ValueError("service_root must not end with '/'")
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("service_root must be an absolute http(s) URL")
        return value

    @property
    def base_path(self) -> str:
        return urlsplit(self.service_root).path


class AdapterSettings(_Section):
    name: str
    kind: str
    options: dict[str, Any] = Field(default_factory=dict)


class ServiceRoute(_Section):
    """A national service id routed to one adapter instance."""

    id: str
    adapter: str
    #: ODS codes allowed to book and cancel; empty means anyone.
    allowed_consumers: tuple[str, ...] = ()
    #: dos_bookingonly.md: the DoS "requirebooking" attribute is present and true, so a
    #: consumer must withhold the referral when no booking could be made.
    booking_only: bool = False


class Hl7NotifyTls(_Section):
    """TLS of the outbound MLLP leg to a consumer (``adapters.hl7_toolkit.tls.TlsOptions``)."""

    enabled: bool = False
    #: CA bundle that verifies the consumer's certificate (system defaults when absent).
    ca_file: Path | None = None
    #: Our client certificate and key, when the consumer asks for one.
    cert_file: Path | None = None
    key_file: Path | None = None
    #: Name to check in the consumer's certificate (defaults to ``host``).
    server_hostname: str | None = None


class Hl7NotifySettings(_Section):
    """Where a consumer listens for the SIU messages telling it of supplier-side changes
    to bookings it made (gateway/hl7/notify.py)."""

    host: str = Field(min_length=1)
    port: int = Field(ge=1, le=65535)
    #: Longest wait for the consumer's ACK of one message (connecting included).
    timeout_s: float = Field(default=5.0, gt=0, le=120)
    tls: Hl7NotifyTls = Hl7NotifyTls()


class Hl7ConsumerSettings(_Section):
    """A legacy consumer of the HL7 v2 front door, known by its MSH-4 sending facility."""

    sending_facility: str = Field(min_length=1)
    #: The consumer organisation's ODS code (the CallContext organisation and audit).
    ods_code: str = Field(min_length=1)
    name: str | None = None
    #: Its MLLP endpoint for SIU notices of supplier-side changes; without one a change
    #: is held for its next query (the appointment's next version, as any read shows it).
    notify: Hl7NotifySettings | None = None


class Hl7NotifyRetry(_Section):
    """How the HL7 outbox retries a notice its consumer did not take (jittered backoff)."""

    first_delay_s: float = Field(default=1.0, gt=0, le=3600)
    max_delay_s: float = Field(default=300.0, gt=0, le=86_400)
    #: Attempts after which an undelivered notice is logged as stuck (it is still retried).
    stuck_after_attempts: int = Field(default=10, ge=1, le=100_000)
    #: How often the outbox worker looks for notices that are due.
    poll_interval_s: float = Field(default=0.5, gt=0, le=60)

    @model_validator(mode="after")
    def _ordered(self) -> Hl7NotifyRetry:
        if self.max_delay_s < self.first_delay_s:
            raise ValueError("max_delay_s must not be below first_delay_s")
        return self


class Hl7TlsSettings(_Section):
    """MLLP over TLS for the front door; with ``ca_file`` client certificates are required."""

    enabled: bool = False
    cert_file: Path | None = None
    key_file: Path | None = None
    ca_file: Path | None = None


class Hl7FrontDoorSettings(_Section):
    """The HL7 v2 MLLP front door for legacy consumers (gateway/hl7/); off when absent."""

    host: str = "127.0.0.1"
    #: 0 picks a free port (tests).
    port: int = Field(ge=0, le=65535)
    #: Folder of the front door's tables (mappings/hl7_front_door/README.md).
    mappings: Path
    max_frame_bytes: int = Field(default=1_048_576, ge=1024, le=64 * 1_048_576)
    #: Time budget of one message's work at the supplier (the CallContext deadline).
    time_budget_s: float = Field(default=8.0, gt=0, le=120)
    #: MSH-3/MSH-4 of our answers.
    application: str = "UEC-GATEWAY"
    facility: str = "GATEWAY"
    #: Zone of HL7 times sent without an offset, and of the times we send.
    timezone: str = "Europe/London"
    consumers: tuple[Hl7ConsumerSettings, ...] = ()
    tls: Hl7TlsSettings = Hl7TlsSettings()
    #: Retries of SIU notices to consumers with a ``notify`` endpoint.
    notify_retry: Hl7NotifyRetry = Hl7NotifyRetry()

    @model_validator(mode="after")
    def _one_consumer_per_facility(self) -> Hl7FrontDoorSettings:
        facilities = [c.sending_facility for c in self.consumers]
        twice = sorted({f for f in facilities if facilities.count(f) > 1})
        if twice:
            raise ValueError(f"consumers: sending_facility {', '.join(twice)} is listed twice")
        return self

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone '{value}'") from None
        return value


class BarsTarget(_Section):
    """One NHSD-Target-Identifier (system and value, e.g. a DoS service id) and the
    gateway service id it routes to."""

    system: str = Field(min_length=1)
    value: str = Field(min_length=1)
    service: str = Field(min_length=1)


class BarsTlsSettings(_Section):
    """Mutual TLS for the BaRS door (core/Security-and-Authorisation/Receiver: the national
    proxy reaches receivers over mTLS). When enabled the door is served only on its own
    listener, ``host:port``, which verifies every client certificate against ``ca_file``."""

    enabled: bool = False
    #: Where the mTLS listener binds (the STU3 surface keeps ``server.host:port``).
    host: str = "0.0.0.0"
    port: int = Field(default=8443, ge=1, le=65535)
    cert_file: Path | None = None
    key_file: Path | None = None
    #: The CA bundle that signs the clients' (the national proxy's) certificates.
    ca_file: Path | None = None

    @model_validator(mode="after")
    def _complete(self) -> BarsTlsSettings:
        missing = [f for f in ("cert_file", "key_file", "ca_file") if getattr(self, f) is None]
        if self.enabled and missing:
            raise ValueError(
                f"bars.tls is enabled but {', '.join(missing)} is not set: the door needs its "
                "certificate and key, and the CA that verifies client certificates"
            )
        return self


class BarsSettings(_Section):
    """The BaRS receiver front door (FHIR R4), served beside the STU3 surface."""

    #: Public service root of the door, no trailing slash (e.g. http://host:8080/bars/FHIR/R4).
    service_root: str
    #: Non-Functional-Requirements: every request answered within 5 s; the proxy waits 32 s.
    request_timeout_s: float = Field(default=4.5, gt=0, le=30)
    #: BaRS Core major versions accepted in ``Accept: application/fhir+json; version=``.
    core_major_versions: tuple[int, ...] = (1,)
    #: The version this door states in its CapabilityStatement.
    core_version: str = "1.5.0"
    targets: tuple[BarsTarget, ...] = ()
    #: CSV (system,value,service) of further targets, relative to the config file.
    targets_file: Path | None = None
    tls: BarsTlsSettings = BarsTlsSettings()

    @field_validator("service_root")
    @classmethod
    def _root(cls, value: str) -> str:
        parts = urlsplit(value)
        if value.endswith("/") or parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("service_root must be an absolute http(s) URL without a trailing '/'")
        if not parts.path:
            raise ValueError("service_root needs a path of its own (e.g. /bars/FHIR/R4)")
        return value

    @property
    def base_path(self) -> str:
        return urlsplit(self.service_root).path


class RegistryRetry(_Section):
    """How a pointer delivery that failed is tried again (jittered exponential backoff)."""

    first_delay_s: float = Field(default=1.0, gt=0, le=3600)
    max_delay_s: float = Field(default=300.0, gt=0, le=86_400)
    #: Attempts after which an undelivered entry is reported stuck (logged, in /health);
    #: it is still retried: a registry outage never loses a pointer.
    stuck_after_attempts: int = Field(default=10, ge=1, le=100_000)

    @model_validator(mode="after")
    def _ordered(self) -> RegistryRetry:
        if self.max_delay_s < self.first_delay_s:
            raise ValueError("max_delay_s must not be below first_delay_s")
        return self


class RegistrySettings(_Section):
    """The national registry the gateway keeps booking pointers in (DocumentReference-
    StandardPattern); absent or ``enabled: false`` = no pointers."""

    enabled: bool = True
    #: Base URL, no trailing slash: pointers go to ``{url}/DocumentReference``.
    url: str
    #: ODS code of the organisation that writes and owns the pointers (their custodian).
    custodian_ods: str = Field(min_length=1)
    #: The product id agreed at onboarding (identifier https://fhir.nhs.uk/id/product-id).
    product_id: str | None = None
    connect_timeout_s: float = Field(default=2.0, gt=0, le=60)
    #: One registry call, connect to last byte.
    request_timeout_s: float = Field(default=5.0, gt=0, le=120)
    retry: RegistryRetry = RegistryRetry()
    #: How often the worker looks for journal entries that are due.
    poll_interval_s: float = Field(default=0.5, gt=0, le=60)
    #: How long a worker owns an entry it is delivering before another may take it over.
    lease_s: float = Field(default=30.0, ge=1, le=3600)
    #: Deliveries in flight at once (entries of one appointment always one at a time).
    concurrency: int = Field(default=4, ge=1, le=64)
    #: Environment variable holding a bearer token for the registry (none if unset).
    token_env: str | None = None
    #: The use case code (usecases-categories-bars, e.g. a1t1) of the ``use-context`` header
    #: sent on writes; no header without it (End-to-end-workflow/Logging lists no registry
    #: endpoint, the API spec marks it required: set it when onboarding asks for it).
    use_case: str | None = None

    @model_validator(mode="after")
    def _lease_covers_calls(self) -> RegistrySettings:
        # One delivery makes at most five calls (delete, search, read, PUT, POST) in its lease.
        if self.lease_s < 5 * self.request_timeout_s:
            raise ValueError("lease_s must be at least 5 x request_timeout_s")
        return self

    @field_validator("url")
    @classmethod
    def _absolute(cls, value: str) -> str:
        parts = urlsplit(value)
        if value.endswith("/") or parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("url must be an absolute http(s) URL without a trailing '/'")
        return value

    @field_validator("custodian_ods")
    @classmethod
    def _ods(cls, value: str) -> str:
        if not (3 <= len(value) <= 10 and value.isascii() and value.isalnum()):
            raise ValueError(f"'{value[:20]}' is not an ODS code (3-10 letters and digits)")
        return value.upper()


class ItkSettings(_Section):
    """The ITK 2.2 front door (gateway/itk/): 111 reports over SOAP, served by the gateway's
    own HTTP server at ``path``; off when absent."""

    #: Where the SOAP endpoint is served (e.g. /itk); the whole path, no trailing slash.
    path: str = "/itk"
    #: Folder of the door's tables (mappings/itk/README.md), relative to the config file.
    mappings: Path
    #: The largest request accepted (the 111 repeat-caller document sets run to ~450 KB).
    max_body_bytes: int = Field(default=4 * 1_048_576, ge=4096, le=64 * 1_048_576)
    #: The deepest element nesting accepted (the samples' CDA reach 18).
    max_depth: int = Field(default=64, ge=8, le=256)
    #: Tolerated clock difference when checking the WS-Security Timestamp.
    clock_skew_s: float = Field(default=60.0, ge=0, le=3600)
    #: Time budget of one message's referral work (the CallContext deadline).
    time_budget_s: float = Field(default=8.0, gt=0, le=120)
    #: Our identity in acknowledgements (ITK reportingIdentity / business ack sender).
    ods_code: str = Field(default="UECGW", min_length=1)

    @field_validator("path")
    @classmethod
    def _path(cls, value: str) -> str:
        if not value.startswith("/") or value.endswith("/") or len(value) < 2:
            raise ValueError("path must start with '/', have a name and no trailing '/'")
        return value


class ReferralSettings(_Section):
    """How referrals are watched (gateway/journeys.py)."""

    #: How long a referral may wait for its booking before it is flagged as unbooked
    #: (the journey view ``GET /ops/journeys?state=unbooked`` and one log event).
    booking_grace_s: float = Field(default=3600.0, gt=0, le=7 * 86_400)
    #: How often the gateway looks for referrals past the grace period.
    sweep_interval_s: float = Field(default=60.0, gt=0, le=3600)


class RetentionSettings(_Section):
    """How long kept records live (gateway/retention.py): a periodic purge on every replica.

    Each period is in days; None keeps that kind for ever. Only finished rows are ever
    purged, and appointment and referral versions never (they are the record).
    """

    #: How often the purge runs (each replica adds up to a tenth of jitter).
    interval_s: float = Field(default=3600.0, ge=60, le=7 * 86_400)
    #: The audit trail. BaRS asks that all API access is audited and retained: kept
    #: unless the operator sets a period (docs/spec-choices.md).
    audit_days: int | None = Field(default=None, ge=1)
    #: DONE idempotency claims, by when they were claimed. At least a day: a consumer's
    #: retries of one X-Request-ID come within minutes, and a purged key books afresh.
    ledger_days: int | None = Field(default=30)
    #: Registry journal and HL7 outbox entries that ended (delivered, held, refused).
    journal_days: int | None = Field(default=30, ge=1)
    #: Answered ITK receipts (the acknowledgement a resend is given back).
    receipts_days: int | None = Field(default=30, ge=1)
    #: Where a slot or schedule a search offered lives, by when it was last offered.
    slot_homes_days: int | None = Field(default=7, ge=1)

    @field_validator("ledger_days")
    @classmethod
    def _beyond_retries(cls, value: int | None) -> int | None:
        if value is not None and value < 1:
            raise ValueError(
                "ledger_days must be at least 1: a done claim must outlive the consumer's"
                " retry window, or a retried booking would be made twice"
            )
        return value


class PolicySettings(_Section):
    """Booking rules across borders (gateway/policy/): a folder holding ``policy.yaml`` and
    its ODS → region table; reloaded with the routes (``POST /admin/reload``, SIGHUP)."""

    folder: Path


class Settings(_Section):
    server: ServerSettings = ServerSettings()
    security: SecuritySettings = SecuritySettings()
    store: StoreSettings = StoreSettings()
    logging: LogSettings = LogSettings()
    adapters: tuple[AdapterSettings, ...] = ()
    services: tuple[ServiceRoute, ...] = ()
    hl7_front_door: Hl7FrontDoorSettings | None = None
    bars: BarsSettings | None = None
    registry: RegistrySettings | None = None
    itk: ItkSettings | None = None
    referrals: ReferralSettings = ReferralSettings()
    retention: RetentionSettings = RetentionSettings()
    alerts: AlertSettings | None = None
    trace: TraceSettings = TraceSettings()
    journal: JournalSettings = JournalSettings()
    circuits: CircuitSettings = CircuitSettings()
    metrics: MetricsSettings = MetricsSettings()
    policy: PolicySettings | None = None
    #: Folder that relative paths are resolved against (the config file's folder).
    base_dir: Path = Path(".")

    def resolve(self, path: Path) -> Path:
        return path if path.is_absolute() else (self.base_dir / path).resolve()


class ConfigError(ValueError):
    """The configuration is unreadable or invalid; each problem says file:line:column."""

    def __init__(self, problems: list[str] | str) -> None:
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("\n".join(self.problems))


#: Option names that must never hold a literal secret (use ``<name>_env``).
SECRET_OPTIONS = frozenset(
    {"password", "secret", "client_secret", "api_key", "apikey", "token", "private_key"}
)


def _at(path: Path, marks: Marks, where_: tuple[str | int, ...]) -> str:
    found = where(marks, where_)
    return f"{path}:{found[0]}:{found[1]}" if found else str(path)


@dataclass(frozen=True)
class Examined:
    """A configuration file read as far as it goes, with every problem found in it."""

    #: The settings, with invalid sections at their defaults and invalid list items left
    #: out; None if even that does not validate.
    settings: Settings | None
    marks: Marks
    problems: list[str]
    #: The position in the file's ``adapters:`` list of each of ``settings.adapters``.
    adapter_at: tuple[int, ...] = ()
    #: Top-level sections left at their defaults because they were invalid.
    invalid: frozenset[str] = frozenset()


def _mark(path: Path, exc: yaml.MarkedYAMLError) -> str:
    mark = exc.problem_mark or exc.context_mark
    at = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
    return f"{at}: {exc.problem or exc.context}"


def _read(path: Path) -> tuple[Any, Marks, list[str]]:
    """The file's data and marks, and its duplicate keys; ConfigError if it cannot be read."""
    duplicates: list[DuplicateKey] = []
    try:
        raw, marks = load_with_marks(path.read_text(encoding="utf-8"), duplicates)
    except OSError as exc:
        raise ConfigError(f"{path}: {exc.strerror or exc}") from exc
    except yaml.MarkedYAMLError as exc:
        raise ConfigError(_mark(path, exc)) from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: {exc}") from exc
    duplicates.sort(
        key=lambda d: (d.problem_mark.line, d.problem_mark.column) if d.problem_mark else (0, 0)
    )
    return raw, marks, [_mark(path, d) for d in duplicates]


def examine(path: Path) -> Examined:
    """Read and validate ``path``, finding every problem; ConfigError only if unreadable."""
    raw, marks, problems = _read(path)
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}:1:1: the top level must be a mapping")
    raw.setdefault("base_dir", str(path.parent.resolve()))
    structure = _route_problems(path, marks, raw) + _literal_secrets(path, marks, raw)
    try:
        settings = Settings.model_validate(raw)
    except ValidationError as exc:
        invalid = [
            f"{_at(path, marks, tuple(e['loc']))}: {'.'.join(map(str, e['loc']))}: {e['msg']}"
            for e in exc.errors()
        ]
        return _salvage(raw, exc, marks, problems + invalid + structure)
    count = len(settings.adapters)
    return Examined(settings, marks, problems + structure, tuple(range(count)))


def _salvage(
    raw: dict[str, Any], exc: ValidationError, marks: Marks, problems: list[str]
) -> Examined:
    """The settings without what failed validation, so the rest can still be checked."""
    bad_items: dict[str, set[int]] = {"adapters": set(), "services": set()}
    invalid: set[str] = set()
    for error in exc.errors():
        section, *rest = error["loc"] or ("",)
        if section in bad_items and rest and isinstance(rest[0], int):
            bad_items[str(section)].add(rest[0])
        else:
            invalid.add(str(section))
    data = {key: value for key, value in raw.items() if key not in invalid}
    kept: dict[str, list[int]] = {}
    for key, bad in bad_items.items():
        if isinstance(data.get(key), list):
            kept[key] = [i for i in range(len(data[key])) if i not in bad]
            data[key] = [data[key][i] for i in kept[key]]
    try:
        settings = Settings.model_validate(data)
    except ValidationError:
        return Examined(None, marks, problems, invalid=frozenset(invalid))
    return Examined(settings, marks, problems, tuple(kept.get("adapters", ())), frozenset(invalid))


def load_checked(path: Path) -> tuple[Settings, Marks]:
    """Read and validate ``path``; every problem found is in the ConfigError."""
    found = examine(path)
    if found.problems or found.settings is None:
        raise ConfigError(found.problems)
    return found.settings, found.marks


def load(path: Path) -> Settings:
    """Read and validate the YAML configuration at ``path``."""
    return load_checked(path)[0]


def _items(raw: Mapping[str, Any], section: str) -> list[tuple[int, Mapping[str, Any]]]:
    """The mappings of a top-level list, with their positions (anything else is left out)."""
    items = raw.get(section)
    if not isinstance(items, list):
        return []
    return [(index, item) for index, item in enumerate(items) if isinstance(item, dict)]


def _route_problems(path: Path, marks: Marks, raw: Mapping[str, Any]) -> list[str]:
    # Read from the file itself, so routes are checked even where adapters are invalid.
    problems = []
    names: list[object] = []
    for index, item in _items(raw, "adapters"):
        name = item.get("name")
        if isinstance(name, str) and name in names:
            where_ = _at(path, marks, ("adapters", index, "name"))
            problems.append(f"{where_}: adapter name '{name}' is used twice")
        names.append(name)
    known = [n for n in names if isinstance(n, str)]
    seen: set[str] = set()
    for index, route in _items(raw, "services"):
        service, adapter = route.get("id"), route.get("adapter")
        if isinstance(adapter, str) and adapter not in known:
            where_ = _at(path, marks, ("services", index, "adapter"))
            configured = ", ".join(known) or "none"
            problems.append(
                f"{where_}: service {service} routes to unknown adapter instance "
                f"'{adapter}' (configured: {configured})"
            )
        if isinstance(service, str) and service in seen:
            where_ = _at(path, marks, ("services", index, "id"))
            problems.append(f"{where_}: service {service} is routed twice")
        if isinstance(service, str):
            seen.add(service)
    return problems


def _literal_secrets(path: Path, marks: Marks, raw: Mapping[str, Any]) -> list[str]:
    problems = []
    for index, item in _items(raw, "adapters"):
        options = item.get("options")
        for key, value in options.items() if isinstance(options, dict) else ():
            if str(key).lower() in SECRET_OPTIONS and value:
                where_ = _at(path, marks, ("adapters", index, "options", key))
                problems.append(
                    f"{where_}: '{key}' holds a secret in the file; name an environment "
                    f"variable with '{key}_env' instead"
                )
    return problems


def _env_options(
    where_: tuple[str | int, ...], options: Mapping[str, Any]
) -> list[tuple[tuple[str | int, ...], str]]:
    """``*_env`` options at any depth (e.g. ``auth.client_secret_env``) and their variables."""
    found: list[tuple[tuple[str | int, ...], str]] = []
    for key, value in options.items():
        if isinstance(value, dict):
            found.extend(_env_options((*where_, key), value))
        elif str(key).endswith("_env") and isinstance(value, str):
            found.append(((*where_, key), value))
    return found


def missing_secrets(
    path: Path,
    marks: Marks,
    settings: Settings,
    environ: Mapping[str, str],
    adapter_at: Sequence[int] | None = None,
) -> list[str]:
    """Options ``*_env`` (and JWT ``secret_env``) naming variables that are not set."""
    wanted: list[tuple[tuple[str | int, ...], str]] = []
    at = range(len(settings.adapters)) if adapter_at is None else adapter_at
    for index, item in zip(at, settings.adapters, strict=True):
        wanted.extend(_env_options(("adapters", index, "options"), item.options))
    for index, key_ in enumerate(settings.security.jwt.keys):
        if key_.secret_env:
            wanted.append((("security", "jwt", "keys", index, "secret_env"), key_.secret_env))
    registry = settings.registry
    if registry is not None and registry.enabled and registry.token_env:
        wanted.append((("registry", "token_env"), registry.token_env))
    store = settings.store
    if store.kind == "postgresql" and store.password_env:
        wanted.append((("store", "password_env"), store.password_env))
    return [
        f"{_at(path, marks, where_)}: environment variable {name} is not set"
        for where_, name in wanted
        if not environ.get(name)
    ]
