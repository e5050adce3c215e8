"""The HL7 v2 adapter's options (``adapters[].options`` of kind ``hl7v2``), validated once."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, field_validator

from adapters._options import database_location, known_zone, under, validate_options
from adapters.hl7_toolkit.charsets import UnknownCharset, codec_for
from adapters.hl7_toolkit.mllp import DEFAULT_MAX_FRAME
from adapters.hl7_toolkit.tls import TlsOptions

MEMORY = ":memory:"
VERSIONS = ("2.3", "2.3.1", "2.4", "2.5", "2.5.1", "2.6", "2.7", "2.7.1", "2.8")


class Hl7v2ConfigError(ValueError):
    """The adapter's options are invalid; the message names the option."""


class _Options(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ListenOptions(_Options):
    """The MLLP listener where the PAS sends unsolicited SIU messages."""

    host: str = "127.0.0.1"
    #: 0 picks a free port (tests); the PAS must be told the real one.
    port: int = Field(ge=0, le=65535)
    tls: TlsOptions = TlsOptions()


class Hl7v2Options(_Options):
    #: The PAS's MLLP endpoint.
    host: str = Field(min_length=1)
    port: int = Field(ge=1, le=65535)
    #: Folder of the mapping tables (``mappings/hl7v2/README.md``).
    mappings: Path
    #: The adapter's own SQLite file: message journal, outcomes, bookings seen.
    database: str = Field(default=MEMORY, min_length=1)
    #: HL7 version sent in MSH-12 (HL7 v2.5 unless the PAS needs another).
    version: str = "2.5"
    #: Zone of local times without an offset, and of the times we send.
    timezone: str = "Europe/London"
    sending_application: str = "UEC-GATEWAY"
    sending_facility: str = "GATEWAY"
    receiving_application: str = "PAS"
    receiving_facility: str = "PAS"
    #: How the PAS answers SRM^S01: with SRR^S01, or ACK then an SIU^S12 to the listener.
    booking_answer: Literal["srr", "ack-then-siu"] = "srr"
    #: Time budget of one call at the PAS; shorter than the gateway's request_timeout_s.
    time_budget_s: float = Field(default=8.0, gt=0, le=120)
    #: Longest wait for one answer before the adapter asks what happened.
    ack_timeout_s: float = Field(default=3.0, gt=0, le=120)
    connect_attempts: int = Field(default=3, ge=1, le=20)
    backoff_s: float = Field(default=0.05, gt=0, le=10)
    max_frame_bytes: int = Field(default=DEFAULT_MAX_FRAME, ge=1024, le=64 * DEFAULT_MAX_FRAME)
    tls: TlsOptions = TlsOptions()
    listen: ListenOptions | None = None
    #: How often unsettled bookings are looked up, and how old they must be first.
    reconcile_interval_s: float = Field(default=5.0, gt=0, le=3600)
    reconcile_after_s: float = Field(default=2.0, ge=0, le=3600)
    #: Check inbound messages against hl7apy's structures for their version.
    validate_inbound: bool = True
    #: How long an accepted inbound message is remembered: an identical resend
    #: (same sender, MSH-10 and content) within it gets the first ACK again.
    inbound_retention_s: float = Field(default=7 * 86400, gt=0, le=400 * 86400)
    #: Character set of inbound messages whose MSH-18 is empty (table 0211 or a codec name).
    default_encoding: str = "UNICODE UTF-8"
    #: PID-3 assigning authority (CX-4) and identifier type (CX-5) assumed when
    #: the PAS leaves them empty; looked up in identifier_systems.csv like sent ones.
    default_assigning_authority: str | None = Field(default=None, min_length=1)
    default_identifier_type: str | None = Field(default=None, min_length=1)
    log_name: str | None = None

    _zone = field_validator("timezone")(known_zone)

    @field_validator("default_encoding")
    @classmethod
    def _known_encoding(cls, value: str) -> str:
        try:
            codec_for(value)
        except UnknownCharset as exc:
            raise ValueError(str(exc)) from None
        return value

    @field_validator("version")
    @classmethod
    def _known_version(cls, value: str) -> str:
        if value not in VERSIONS:
            raise ValueError(f"'{value}' is not one of {', '.join(VERSIONS)}")
        return value

    @property
    def identifier_defaults(self) -> tuple[str, str]:
        return (self.default_assigning_authority or "", self.default_identifier_type or "")

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def database_path(self, base_dir: Path) -> str:
        return database_location(base_dir, self.database)

    def mappings_path(self, base_dir: Path) -> Path:
        return under(base_dir, self.mappings)


def parse_options(name: str, options: Mapping[str, Any]) -> Hl7v2Options:
    return validate_options(Hl7v2Options, options, name=name, kind="hl7v2", error=Hl7v2ConfigError)
