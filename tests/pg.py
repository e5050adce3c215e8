"""A throwaway PostgreSQL schema per test, for any test that needs the real database.

``UEC_TEST_PG_DSN`` names the server and database (default: the local ``test``
database as ``postgres``, trust auth). Each use of ``fresh_schema`` creates a
schema ``t_<random>`` and drops it, with everything in it, afterwards. Outside
CI a test is skipped when the server cannot be reached, with a reason starting
with ``PG_ABSENT``; under CI (``CI=true``) ``tests/conftest.py`` fails it instead.

    async with fresh_schema() as pg:
        store = PostgresStore(pg.dsn, schema=pg.schema)
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass

import asyncpg
import pytest

PG_DSN = os.environ.get("UEC_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test")

#: The words every skip for an unreachable server starts with; the CI hook looks for them.
PG_ABSENT = "PostgreSQL unreachable"

_CONNECT_TIMEOUT_S = 5.0


@dataclass(frozen=True, slots=True)
class PgSchema:
    """Where a test's tables live: the server's DSN and the schema (search_path) name."""

    dsn: str
    schema: str


async def _admin() -> asyncpg.Connection:
    try:
        return await asyncpg.connect(PG_DSN, timeout=_CONNECT_TIMEOUT_S)
    except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
        pytest.skip(f"{PG_ABSENT}: {type(exc).__name__}: {exc}")


@contextlib.asynccontextmanager
async def fresh_schema(*, create: bool = True) -> AsyncIterator[PgSchema]:
    """A new schema name (the schema itself created unless ``create`` is False), dropped
    afterwards whether or not anything created it."""
    name = schema_name()
    conn = await _admin()
    try:
        if create:
            await conn.execute(f"CREATE SCHEMA {name}")
    finally:
        await conn.close()
    try:
        yield PgSchema(PG_DSN, name)
    finally:
        await drop_schema(name)


def schema_name() -> str:
    """A fresh name for a throwaway schema (``t_<random>``)."""
    return f"t_{secrets.token_hex(8)}"


async def drop_schema(name: str) -> None:
    """Drop schema ``name`` with everything in it, if it exists."""
    conn = await _admin()
    try:
        await conn.execute(f"DROP SCHEMA IF EXISTS {name} CASCADE")
    finally:
        await conn.close()
