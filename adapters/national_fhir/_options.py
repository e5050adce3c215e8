"""The national FHIR adapter's options, validated once when it is created."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator

from adapters._options import under, validate_options

#: An ASID (Accredited System Identifier) is a run of digits (fs_workflow.md).
ASID = re.compile(r"^\d{1,20}$")


class NationalFhirConfigError(ValueError):
    """The adapter's options are invalid; the message names the option."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class OrganisationOption(_Section):
    """fs_authentication.md requesting_organization: used when the caller names none."""

    ods_code: str = Field(min_length=1)
    name: str = Field(min_length=1)


class DeviceOption(_Section):
    """fs_authentication.md requesting_device: this system, when the caller names none."""

    system: str = Field(min_length=1)
    value: str = Field(min_length=1)
    model: str = Field(min_length=1)
    version: str = Field(min_length=1)


class SdsOption(_Section):
    """An optional Spine Directory Service lookup (fs_sds.md), behind a pluggable transport."""

    #: "module:factory" of an async ``SdsTransport`` factory taking the options below.
    transport: str = Field(pattern=r"^[\w.]+:\w+$")
    options: dict[str, Any] = Field(default_factory=dict)
    #: How long a looked-up endpoint is trusted.
    cache_s: float = Field(default=3600.0, gt=0)


def _absolute_url(value: str, what: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query:
        raise ValueError(f"{what} must be an absolute http(s) URL without a query")
    return value


class NationalFhirOptions(_Section):
    #: The Spine Secure Proxy's URL; provider URLs are appended to it (implementation_api.md).
    ssp_url: str
    #: This gateway's ASID, sent as Ssp-From.
    asid: str = Field(pattern=ASID.pattern)
    #: CSV directory of national service id -> ASID -> service root (relative to the config).
    directory: Path
    #: fs_authentication.md iss: the URL of this consumer system's Spine endpoint.
    issuer: str
    organisation: OrganisationOption
    device: DeviceOption
    sds: SdsOption | None = None
    #: Time budget of one call when the caller gives no deadline.
    timeout_s: float = Field(default=10.0, gt=0, le=300)
    #: Sends of one request when the connection is lost before an answer (same X-Request-ID).
    attempts: int = Field(default=3, ge=1, le=10)
    #: Read-then-update rounds of a cancel when the provider answers 409/412 (fs_xti.md).
    cancel_attempts: int = Field(default=3, ge=1, le=10)
    #: Bundle pages followed per slot search (search_slots.md: providers MAY page).
    max_pages: int = Field(default=10, ge=1, le=100)
    #: Name logged as ``adapter``; defaults to the instance name.
    log_name: str | None = None

    @field_validator("ssp_url")
    @classmethod
    def _ssp(cls, value: str) -> str:
        return _absolute_url(value, "ssp_url")

    @field_validator("issuer")
    @classmethod
    def _issuer(cls, value: str) -> str:
        return _absolute_url(value, "issuer")

    def directory_path(self, base_dir: Path) -> Path:
        return under(base_dir, self.directory)


def parse_options(name: str, options: Mapping[str, Any]) -> NationalFhirOptions:
    return validate_options(
        NationalFhirOptions, options, name=name, kind="national-fhir", error=NationalFhirConfigError
    )
