"""The embedded adapter's options, validated once when it is created."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, field_validator

from adapters._options import database_location, known_zone, under, validate_options

MEMORY = ":memory:"


class EmbeddedConfigError(ValueError):
    """The adapter's options are invalid; the message names the option."""


class EmbeddedOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    #: SQLite file holding slots and bookings (relative to the config folder), or ":memory:".
    database: str = Field(min_length=1)
    #: Folder of the CSV data files (relative to the config folder).
    data_dir: Path
    #: IANA zone the slot templates' wall-clock times are in.
    timezone: str = "Europe/London"
    #: Slots are generated from today (local) for this many days.
    horizon_days: int = Field(default=14, ge=1, le=366)
    #: Name logged as ``adapter``; defaults to the instance name.
    log_name: str | None = None

    _zone = field_validator("timezone")(known_zone)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def database_path(self, base_dir: Path) -> str:
        return database_location(base_dir, self.database)

    def data_path(self, base_dir: Path) -> Path:
        return under(base_dir, self.data_dir)


def parse_options(name: str, options: Mapping[str, Any]) -> EmbeddedOptions:
    return validate_options(
        EmbeddedOptions, options, name=name, kind="embedded", error=EmbeddedConfigError
    )
