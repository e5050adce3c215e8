"""PostgreSQL for the embedded diary's tests: a fresh schema per test in database ``test``.

``UEC_TEST_PG_DSN`` names the server (default: the local one, trust auth). Each
diary gets ``t_<random>`` in that database, dropped afterwards. PostgreSQL is part
of every machine this project runs on (``.ci/run`` starts it), so a server that
cannot be reached fails the test, saying so, rather than skipping it.
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

DSN = os.environ.get("UEC_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test")
_reachable: bool | None = None

#: Where a test's diary lives: an SQLite file or a PostgreSQL schema.
Where = Path | PgTarget


async def require_postgres() -> None:
    """Fail the calling test, clearly, when the PostgreSQL server cannot be reached."""
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
        pytest.fail(
            f"PostgreSQL not reachable at {DSN}: start it "
            "(pg_ctlcluster --skip-systemctl-redirect 15 main start) or set UEC_TEST_PG_DSN"
        )


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
