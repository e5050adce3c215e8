"""The embedded adapter: a small scheduling backend of its own, on SQLite or PostgreSQL.

Configured as ``kind: embedded`` with options ``database`` (an SQLite file) or
``dsn`` (a PostgreSQL URL, with ``password_env``, ``schema`` and ``pool_size``),
``data_dir``, ``timezone`` (default Europe/London), ``horizon_days`` (default
14) and ``log_name``; the data files are described in ``mappings/embedded/README.md``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from adapters._csvtable import DataFileError
from adapters.contract import SupplierAdapter
from adapters.embedded._db import PgTarget
from adapters.embedded._directory import Directory, load_directory
from adapters.embedded._options import EmbeddedConfigError, EmbeddedOptions, parse_options
from adapters.embedded.adapter import EmbeddedAdapter

__all__ = [
    "DataFileError",
    "Directory",
    "EmbeddedAdapter",
    "EmbeddedConfigError",
    "EmbeddedOptions",
    "PgTarget",
    "check",
    "create",
    "load_directory",
]


def check(name: str, options: Mapping[str, Any], base_dir: Path) -> None:
    """Validate options and data files without opening (or creating) the diary."""
    settings = parse_options(name, options)
    load_directory(settings.data_path(base_dir))


async def create(name: str, options: Mapping[str, Any], base_dir: Path) -> SupplierAdapter:
    """Build the embedded adapter ``name`` (the registry's ``adapters.embedded:create``).

    Raises ``EmbeddedConfigError`` for bad options, ``DataFileError`` (both
    ``ValueError``) for a bad data file with its file, line and column, and
    ``SupplierUnavailable`` if the database cannot be opened.
    """
    settings = parse_options(name, options)
    directory = load_directory(settings.data_path(base_dir))
    try:
        location = settings.location(base_dir)
    except EmbeddedConfigError as exc:
        raise EmbeddedConfigError(f"adapter '{name}' (embedded): {exc}") from None
    return await EmbeddedAdapter.open(
        name,
        location,
        directory,
        zone=settings.zone,
        horizon_days=settings.horizon_days,
        log_name=settings.log_name,
    )
