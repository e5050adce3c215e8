"""The embedded adapter's options, validated once when it is created."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

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

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone '{value}'") from None
        return value

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def database_path(self, base_dir: Path) -> str:
        if self.database == MEMORY:
            return MEMORY
        path = Path(self.database)
        return str(path if path.is_absolute() else base_dir / path)

    def data_path(self, base_dir: Path) -> Path:
        return self.data_dir if self.data_dir.is_absolute() else base_dir / self.data_dir


def parse_options(name: str, options: Mapping[str, Any]) -> EmbeddedOptions:
    try:
        return EmbeddedOptions.model_validate(dict(options))
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'options'}: {err['msg']}"
            for err in exc.errors()
        )
        raise EmbeddedConfigError(f"adapter '{name}' (embedded): {problems}") from None
