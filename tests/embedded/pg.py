"""PostgreSQL for the embedded diary's tests: a fresh schema per test in database ``test``.

``UEC_TEST_PG_DSN`` names the server (default: the local one, trust auth). Each
diary gets ``t_<random>`` in that database, dropped afterwards. A server that
cannot be reached skips the test with a reason starting ``tests.pg.PG_ABSENT``,
which under CI (``CI=true``; ``.ci/run`` starts the server) is a failure.
"""

from __future__ import annotations

import os
import re
import sqlite3
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from adapters.embedded import PgTarget
from tests.pg import PG_ABSENT

DSN = os.environ.get("UEC_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test")
_reachable: bool | None = None

#: Where a test's diary lives: an SQLite file or a PostgreSQL schema.
Where = Path | PgTarget


async def require_postgres() -> None:
    """Skip the calling test (a failure under CI) when PostgreSQL cannot be reached."""
    global _reachable
    if _reachable is None:
        try:
            conn = await asyncpg.connect(DSN, timeout=5.0)
        except (OSError, asyncpg.PostgresError, TimeoutError):
            _reachable = False
        else:
            await conn.close()
            _reachable = True
    if not _reachable:
        pytest.skip(f"{PG_ABSENT} at {DSN}")


@asynccontextmanager
async def fresh_schema() -> AsyncIterator[PgTarget]:
    """A target naming a schema nobody has used (not yet created), dropped on exit."""
    await require_postgres()
    schema = f"t_{uuid.uuid4().hex[:16]}"
    try:
        yield PgTarget(DSN, schema=schema)
    finally:
        conn = await asyncpg.connect(DSN, timeout=5.0)
        try:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        finally:
            await conn.close()


async def raw(where: Where, sql: str, *params: object) -> list[tuple[Any, ...]]:
    """Run ``sql`` (``?`` placeholders) on the diary's own database, past the adapter."""
    if isinstance(where, Path):
        with sqlite3.connect(where) as conn:
            return [tuple(row) for row in conn.execute(sql, params).fetchall()]
    numbered = iter(range(1, sql.count("?") + 1))
    conn = await asyncpg.connect(
        where.dsn, timeout=5.0, server_settings={"search_path": str(where.schema)}
    )
    try:
        rows = await conn.fetch(re.sub(r"\?", lambda _: f"${next(numbered)}", sql), *params)
    finally:
        await conn.close()
    return [tuple(row) for row in rows]
