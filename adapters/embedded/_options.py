"""The embedded adapter's options, validated once when it is created."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from adapters._options import database_location, known_zone, under, validate_options
from adapters.embedded._db import PgTarget

MEMORY = ":memory:"
#: An unquoted PostgreSQL identifier, kept to lower case so it never needs quoting.
_SCHEMA = re.compile(r"[a-z_][a-z0-9_]{0,62}")


class EmbeddedConfigError(ValueError):
    """The adapter's options are invalid; the message names the option."""


class EmbeddedOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    #: PostgreSQL diary instead of SQLite: ``postgresql://user@host:port/dbname``.
    dsn: str | None = Field(default=None, min_length=1)
    #: SQLite file holding slots and bookings (relative to the config folder), or ":memory:".
    #: Declared after ``dsn`` so its check sees whether ``dsn`` was given.
    database: str | None = Field(default=None, min_length=1, validate_default=True)
    #: Environment variable holding the PostgreSQL password (never the password itself).
    password_env: str | None = Field(default=None, min_length=1)
    #: PostgreSQL schema holding the diary's tables (created if missing).
    schema_: str | None = Field(default=None, alias="schema")
    #: PostgreSQL connections per gateway process.
    pool_size: int = Field(default=5, ge=1, le=100)
    #: Folder of the CSV data files (relative to the config folder).
    data_dir: Path
    #: IANA zone the slot templates' wall-clock times are in.
    timezone: str = "Europe/London"
    #: Slots are generated from today (local) for this many days.
    horizon_days: int = Field(default=14, ge=1, le=366)
    #: Name logged as ``adapter``; defaults to the instance name.
    log_name: str | None = None

    _zone = field_validator("timezone")(known_zone)

    @field_validator("dsn")
    @classmethod
    def _postgres_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            parts = urlsplit(value)
            has_password = parts.password is not None
        except ValueError:
            raise ValueError("not a URL like postgresql://user@host:5432/dbname") from None
        if parts.scheme not in ("postgresql", "postgres"):
            raise ValueError("must be a URL like postgresql://user@host:5432/dbname")
        if has_password or "password=" in parts.query:
            raise ValueError("must not hold a password; name its variable in password_env")
        return value

    @field_validator("schema_")
    @classmethod
    def _plain_schema(cls, value: str | None) -> str | None:
        if value is not None and not _SCHEMA.fullmatch(value):
            raise ValueError(f"'{value}' is not a lower-case schema name (a-z, 0-9, _; at most 63)")
        return value

    @field_validator("database")
    @classmethod
    def _one_database(cls, value: str | None, info: ValidationInfo) -> str | None:
        # A field check, not a model one, so it is reported with every other problem.
        if "dsn" in info.data and (value is None) == (info.data["dsn"] is None):
            raise ValueError(
                "give exactly one of database (an SQLite file) or dsn (a PostgreSQL URL)"
            )
        return value

    @model_validator(mode="after")
    def _postgres_only(self) -> EmbeddedOptions:
        if self.dsn is None:
            unused = [
                name
                for name, value in (("password_env", self.password_env), ("schema", self.schema_))
                if value is not None
            ]
            if unused:
                raise ValueError(f"{' and '.join(unused)} apply only with dsn (PostgreSQL)")
        return self

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def database_path(self, base_dir: Path) -> str:
        assert self.database is not None, "a PostgreSQL diary has no path"
        return database_location(base_dir, self.database)

    def location(self, base_dir: Path, environ: Mapping[str, str] = os.environ) -> str | PgTarget:
        """The SQLite path, or the PostgreSQL target with its password from the environment."""
        if self.dsn is None:
            return self.database_path(base_dir)
        password = None
        if self.password_env is not None:
            password = environ.get(self.password_env)
            if not password:
                raise EmbeddedConfigError(
                    f"password_env: environment variable {self.password_env} is not set"
                )
        return PgTarget(self.dsn, password, self.schema_, self.pool_size)

    def data_path(self, base_dir: Path) -> Path:
        return under(base_dir, self.data_dir)


def parse_options(name: str, options: Mapping[str, Any]) -> EmbeddedOptions:
    return validate_options(
        EmbeddedOptions, options, name=name, kind="embedded", error=EmbeddedConfigError
    )
