"""The ``bars`` adapter's options, validated once when it is created.

Security-and-Authorisation/Sender: the sender is an application registered with the
national proxy (client id, key id, RSA private key); End-to-end-workflow/Routing: each
national service it books into is named by a target identifier (the targets table).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from adapters._http_options import http_url
from adapters._options import under, validate_options


class BarsConfigError(ValueError):
    """The adapter's options are invalid; the message names the option."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class OrganisationOption(_Section):
    """The default NHSD-End-User-Organisation, when the caller names none."""

    ods_code: str = Field(min_length=1)
    name: str = Field(min_length=1)


class SoftwareOption(_Section):
    """NHSD-Requesting-Software when the caller names no device: this gateway."""

    system: str = "https://uec-gateway.example/Id/software"
    value: str = "uec-gateway"
    name: str = "uec-gateway"
    version: str = "0.1.0"


class CallbackOption(_Section):
    """The sender's own ``$process-message`` endpoint (End-to-end-workflow/Asynchronous-
    Workflow): receivers POST booking updates back to it."""

    host: str = "127.0.0.1"
    port: int = Field(ge=0, le=65535)
    path: str = "/bars-sender/FHIR/R4"

    @field_validator("path")
    @classmethod
    def _path(cls, value: str) -> str:
        if not value.startswith("/"):
            raise ValueError("callback.path must start with '/'")
        return value.rstrip("/") or "/"


class BarsOptions(_Section):
    #: The proxy's API root, e.g. https://.../booking-and-referral/FHIR/R4.
    proxy_url: str
    #: The OAuth 2.0 token endpoint; a client assertion's ``aud`` is exactly this.
    token_url: str
    client_id: str = Field(min_length=1)
    kid: str = Field(min_length=1)
    private_key_file: Path | None = None
    private_key_env: str | None = None
    #: CSV: service_id,target_system,target_value,ods_code,name (mappings/bars_sender/).
    targets: Path
    organisation: OrganisationOption
    software: SoftwareOption = SoftwareOption()
    #: Time budget of one call when the caller gives no deadline.
    timeout_s: float = Field(default=10.0, gt=0, le=300)
    #: Sends of one request the spec lets us retry (same ids, same body).
    attempts: int = Field(default=3, ge=1, le=10)
    #: Read-then-write rounds of a cancel answered 409/412.
    cancel_attempts: int = Field(default=3, ge=1, le=10)
    #: Longest a receiver's CapabilityStatement/MessageDefinitions are trusted.
    capability_cache_s: float = Field(default=3600.0, ge=0, le=86400)
    #: First pause of the jittered exponential backoff between retries.
    backoff_s: float = Field(default=0.2, ge=0, le=10)
    #: How to book: by the receiver's declarations (auto), or always $process-message or REST.
    booking: Literal["auto", "message", "rest"] = "auto"
    callback: CallbackOption | None = None
    log_name: str | None = None

    _urls = field_validator("proxy_url", "token_url")(http_url)

    @model_validator(mode="after")
    def _one_key(self) -> BarsOptions:
        if (self.private_key_file is None) == (self.private_key_env is None):
            raise ValueError("give exactly one of private_key_file or private_key_env")
        return self

    @property
    def callback_endpoint(self) -> str | None:
        """The URL receivers send updates to (MessageHeader.source.endpoint), if served."""
        cb = self.callback
        return None if cb is None else f"http://{cb.host}:{cb.port}{cb.path}"

    def targets_path(self, base_dir: Path) -> Path:
        return under(base_dir, self.targets)

    def private_key(self, base_dir: Path) -> bytes:
        """The PEM of the signing key; ``BarsConfigError`` if it cannot be had."""
        if self.private_key_env is not None:
            value = os.environ.get(self.private_key_env)
            if not value:
                raise BarsConfigError(f"private_key_env: ${self.private_key_env} is not set")
            return value.encode()
        assert self.private_key_file is not None
        path = under(base_dir, self.private_key_file)
        try:
            return path.read_bytes()
        except OSError as exc:
            raise BarsConfigError(f"private_key_file: cannot read {path}: {exc.strerror}") from None


def parse_options(name: str, options: Mapping[str, Any]) -> BarsOptions:
    return validate_options(BarsOptions, options, name=name, kind="bars", error=BarsConfigError)
