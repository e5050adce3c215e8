"""The SOAP diary adapter's options, validated once when it is created."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, field_validator

from adapters._http import Policy
from adapters._options import known_zone, under, validate_options
from adapters.soap_diary._envelope import SoapVersion


class SoapDiaryConfigError(ValueError):
    """The adapter's options are invalid; the message names the option (never a secret)."""


class SoapDiaryOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    #: The DiaryService endpoint, e.g. https://diary.example.net/DiaryService.svc
    endpoint: str
    #: Folder of mapping tables (relative to the config file's folder).
    mappings: Path
    #: "1.1" (text/xml + SOAPAction) or "1.2" (application/soap+xml).
    soap_version: SoapVersion = SoapVersion.V11
    #: HTTP Basic credentials: a user name, and the variable holding the password.
    username: str | None = None
    password_env: str | None = None
    timezone: str = "Europe/London"
    timeout_s: float = Field(default=5.0, gt=0, le=120)
    connect_timeout_s: float = Field(default=2.0, gt=0, le=60)
    attempts: int = Field(default=3, ge=1, le=10)
    #: Largest answer read; anything bigger is refused before parsing.
    max_body_bytes: int = Field(default=1_000_000, ge=1024)
    id_prefix: str | None = None
    log_name: str | None = None

    @field_validator("endpoint")
    @classmethod
    def _http_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"'{value}' is not an absolute http(s) URL")
        return value

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


def parse_options(name: str, options: Mapping[str, Any]) -> SoapDiaryOptions:
    settings = validate_options(
        SoapDiaryOptions, options, name=name, kind="soap-diary", error=SoapDiaryConfigError
    )
    if (settings.username is None) != (settings.password_env is None):
        raise SoapDiaryConfigError(
            f"adapter '{name}' (soap-diary): username and password_env go together"
        )
    return settings


def password(name: str, variable: str) -> str:
    value = os.environ.get(variable, "")
    if not value:
        raise SoapDiaryConfigError(
            f"adapter '{name}' (soap-diary): password_env: environment variable "
            f"'{variable}' is not set"
        )
    return value
