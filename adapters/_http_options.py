"""Options every HTTP supplier adapter shares (REST diary, SOAP diary)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, field_validator

from adapters._http import Policy
from adapters._options import known_zone, under


def http_url(value: str) -> str:
    """A pydantic validator: an absolute http(s) URL, without a trailing '/'."""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"'{value}' is not an absolute http(s) URL")
    return value.rstrip("/")


class HttpSupplierOptions(BaseModel):
    """Options every HTTP supplier adapter has: tables, zone, timeouts, resends, names."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: Folder of mapping tables (relative to the config file's folder).
    mappings: Path
    #: IANA zone of the supplier's local wall-clock times.
    timezone: str = "Europe/London"
    #: Longest wait for one HTTP exchange (the call's deadline may cut it shorter).
    timeout_s: float = Field(default=5.0, gt=0, le=120)
    connect_timeout_s: float = Field(default=2.0, gt=0, le=60)
    #: Attempts for requests that are safe to resend (reads; bookings carry an idempotency key).
    attempts: int = Field(default=3, ge=1, le=10)
    #: Largest answer read; anything bigger is refused before parsing.
    max_body_bytes: int = Field(default=1_000_000, ge=1024)
    #: Prefix of the FHIR ids made from supplier codes; defaults to the instance name.
    id_prefix: str | None = None
    log_name: str | None = None

    _zone = field_validator("timezone")(known_zone)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def policy(self) -> Policy:
        return Policy(
            attempt_timeout_s=self.timeout_s,
            connect_timeout_s=self.connect_timeout_s,
            attempts=self.attempts,
            max_body_bytes=self.max_body_bytes,
        )

    def mappings_path(self, base_dir: Path) -> Path:
        return under(base_dir, self.mappings)
