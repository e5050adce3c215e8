"""The store a configuration names (``store.kind``), built but not yet opened.

The PostgreSQL store (and asyncpg) is imported only when configured, so an
embedded gateway on SQLite loads nothing it does not use.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING

from gateway.config import MEMORY, ConfigError, Settings
from gateway.store.sqlite import SqliteStore

if TYPE_CHECKING:
    from gateway.store.postgresql import PostgresStore

__all__ = ["build"]


def build(
    settings: Settings,
    *,
    pointer_journal: bool = False,
    environ: Mapping[str, str] = os.environ,
) -> SqliteStore | PostgresStore:
    """The configured store; raises ``ConfigError`` when its password variable is unset."""
    store = settings.store
    if store.in_memory:
        return SqliteStore(MEMORY, pointer_journal=pointer_journal)
    if store.kind == "sqlite":
        return SqliteStore(settings.resolve(store.path), pointer_journal=pointer_journal)
    from gateway.store.postgresql import PostgresStore

    if store.dsn is None:  # the settings' validator already refuses this
        raise ConfigError("store kind 'postgresql' needs dsn")
    password = None
    if store.password_env:
        password = environ.get(store.password_env)
        if not password:
            raise ConfigError(f"store: environment variable {store.password_env} is not set")
    return PostgresStore(
        store.dsn,
        schema=store.schema_name,
        password=password,
        pool_size=store.pool_size,
        pointer_journal=pointer_journal,
        statement_timeout_s=store.statement_timeout_s,
    )
