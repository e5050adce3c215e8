"""The ITK sender adapter's options, validated once when it is created (and by check-config)."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from adapters._http import Policy
from adapters._http_options import http_url
from adapters._options import under, validate_options

KIND = "itk"

#: ITK 2.2's service for the NHS 111 report (the ``service`` and WS-Addressing ``Action``).
NHS111_SERVICE = "urn:nhs-itk:services:201005:SendNHS111Report-v2-0"


class ItkConfigError(ValueError):
    """The adapter's options are invalid; the message names the option."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RetryOptions(_Strict):
    """Resends of one report (always with the same tracking id), within the call's deadline."""

    attempts: int = Field(default=4, ge=1, le=10)
    #: The n-th pause is ``first_delay_s * 2**(n-1)``, capped, then jittered to 50-100 %.
    first_delay_s: float = Field(default=0.2, gt=0, le=60)
    max_delay_s: float = Field(default=5.0, gt=0, le=600)

    @model_validator(mode="after")
    def _ordered(self) -> RetryOptions:
        if self.max_delay_s < self.first_delay_s:
            raise ValueError("max_delay_s must not be shorter than first_delay_s")
        return self


class BusinessAckOptions(_Strict):
    """The business acknowledgement: asked for in the handling specification, received on a
    listener of the adapter's own (ITK 2.2: the receiver sends it as a message of its own)."""

    #: ``off``: not asked for; ``await``: asked for and waited on up to ``wait_s``.
    mode: Literal["off", "await"] = "off"
    #: Longest wait for the business ack after the infrastructure ack (the deadline may cut it).
    wait_s: float = Field(default=10.0, gt=0, le=600)
    #: Start the listener (and name it as ``wsa:ReplyTo``); without it only a business ack the
    #: receiver answers synchronously (in the SOAP Header of its answer) is seen.
    listen: bool = True
    #: Where the listener binds.
    host: str = "127.0.0.1"
    port: int = Field(default=0, ge=0, le=65535)
    #: The URL the receiver posts acks to (``wsa:ReplyTo``); default ``http://host:port/itk/ack``.
    public_url: str | None = None

    _url = field_validator("public_url")(lambda v: None if v is None else http_url(v))

    @field_validator("host")
    @classmethod
    def _host(cls, value: str) -> str:
        try:
            ipaddress.ip_address(value)
        except ValueError:
            if not value or any(c.isspace() for c in value):
                raise ValueError(f"'{value}' is not a host name or address") from None
        return value


class InnerAdapter(_Strict):
    """The adapter that books for the same services (the ITK adapter only refers)."""

    kind: str
    options: dict[str, Any] = Field(default_factory=dict)


class ItkOptions(_Strict):
    #: The receiver's ITK endpoint (a provider row may name its own).
    endpoint: str
    #: Folder holding ``providers.csv`` (relative to the configuration's folder).
    mappings: Path
    #: This gateway's ITK address (``senderAddress``) and audit identity.
    sender_address: str = Field(min_length=1)
    audit_identity: str | None = None
    #: WS-Security UsernameToken user name (ITK 2.2 sends no password in it).
    username: str | None = None
    service: str = NHS111_SERVICE
    timeout_s: float = Field(default=10.0, gt=0, le=120)
    connect_timeout_s: float = Field(default=3.0, gt=0, le=60)
    max_body_bytes: int = Field(default=1_000_000, ge=1024)
    retry: RetryOptions = RetryOptions()
    business_ack: BusinessAckOptions = BusinessAckOptions()
    #: Optional: the adapter that books at these services, built by kind through the registry.
    bookings: InnerAdapter | None = None
    log_name: str | None = None

    _url = field_validator("endpoint")(http_url)

    @property
    def policy(self) -> Policy:
        """One attempt per ``send`` (the adapter resends itself, with the same tracking id)."""
        return Policy(
            attempt_timeout_s=self.timeout_s,
            connect_timeout_s=self.connect_timeout_s,
            attempts=1,
            max_body_bytes=self.max_body_bytes,
        )

    def mappings_path(self, base_dir: Path) -> Path:
        return under(base_dir, self.mappings)


def parse_options(name: str, options: Mapping[str, Any]) -> ItkOptions:
    settings = validate_options(ItkOptions, options, name=name, kind=KIND, error=ItkConfigError)
    if settings.bookings is not None and settings.bookings.kind == KIND:
        raise ItkConfigError(f"adapter '{name}' ({KIND}): bookings.kind cannot be '{KIND}'")
    return settings
