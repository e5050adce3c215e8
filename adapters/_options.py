"""What every adapter's options have in common: validation errors, zones, paths.

Each adapter validates its ``options:`` mapping with its own pydantic model;
these helpers make the error messages, time-zone checks and path resolution
read the same in every adapter.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ValidationError

MEMORY = ":memory:"
M = TypeVar("M", bound=BaseModel)


def validate_options(
    model: type[M], options: Mapping[str, Any], *, name: str, kind: str, error: type[ValueError]
) -> M:
    """``model`` from ``options``; every problem in one ``error`` naming the adapter."""
    try:
        return model.model_validate(dict(options))
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'options'}: {err['msg']}"
            for err in exc.errors()
        )
        raise error(f"adapter '{name}' ({kind}): {problems}") from None


def known_zone(value: str) -> str:
    """A pydantic validator: ``value`` must be an IANA time zone name."""
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone '{value}'") from None
    return value


def under(base_dir: Path, path: Path) -> Path:
    """``path`` as given if absolute, else relative to the configuration's folder."""
    return path if path.is_absolute() else base_dir / path


def database_location(base_dir: Path, database: str) -> str:
    """An SQLite location: ``:memory:`` as is, a file relative to the configuration."""
    return MEMORY if database == MEMORY else str(under(base_dir, Path(database)))
