"""The REST diary adapter's options, validated once when it is created.

Secrets are never options: ``key_env`` and ``client_secret_env`` name
environment variables, read here, once.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, field_validator

from adapters._http import Policy
from adapters._options import known_zone, under, validate_options


class RestDiaryConfigError(ValueError):
    """The adapter's options are invalid; the message names the option (never a secret)."""


class _Options(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"'{value}' is not an absolute http(s) URL")
    return value.rstrip("/")


class ApiKeyAuth(_Options):
    kind: Literal["api_key"]
    header: str = "X-Api-Key"
    #: Environment variable holding the key.
    key_env: str


class OAuth2Auth(_Options):
    kind: Literal["oauth2"]
    token_url: str
    client_id: str
    #: Environment variable holding the client secret.
    client_secret_env: str
    scope: str | None = None
    #: A token is renewed this long before the supplier says it expires.
    refresh_margin_s: float = Field(default=30.0, ge=0)

    _url = field_validator("token_url")(_http_url)


class RestDiaryOptions(_Options):
    #: The diary API root, e.g. https://diary.example.net/api/v2
    base_url: str
    #: Folder of mapping tables (relative to the config file's folder).
    mappings: Path
    auth: Annotated[ApiKeyAuth | OAuth2Auth, Field(discriminator="kind")]
    #: IANA zone of the supplier's local wall-clock times.
    timezone: str = "Europe/London"
    #: Longest wait for one HTTP exchange (the call's deadline may cut it shorter).
    timeout_s: float = Field(default=5.0, gt=0, le=120)
    connect_timeout_s: float = Field(default=2.0, gt=0, le=60)
    #: Attempts for requests that are safe to resend (reads; bookings carry an idempotency key).
    attempts: int = Field(default=3, ge=1, le=10)
    page_size: int = Field(default=100, ge=1, le=1000)
    #: Pages read per clinic in one search; beyond it the search is cut short (and logged).
    max_pages: int = Field(default=50, ge=1, le=1000)
    max_body_bytes: int = Field(default=2_000_000, ge=1024)
    #: Prefix of the FHIR ids made from supplier codes; defaults to the instance name.
    id_prefix: str | None = None
    log_name: str | None = None

    _url = field_validator("base_url")(_http_url)

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


def parse_options(name: str, options: Mapping[str, Any]) -> RestDiaryOptions:
    return validate_options(
        RestDiaryOptions, options, name=name, kind="rest-diary", error=RestDiaryConfigError
    )


def secret(name: str, option: str, variable: str, environ: Mapping[str, str] | None = None) -> str:
    """The value of environment variable ``variable``; an error names it, never its value."""
    value = (os.environ if environ is None else environ).get(variable, "")
    if not value:
        raise RestDiaryConfigError(
            f"adapter '{name}' (rest-diary): {option}: environment variable '{variable}' is not set"
        )
    return value
