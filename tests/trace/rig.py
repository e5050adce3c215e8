"""What the journey trace tests share: the raw trace tables and the ``trace`` command."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import asyncpg
from aiohttp import web

from gateway.config import Settings
from gateway.config import load as load_config
from gateway.trace.recorder import TRACE
from tests.processes import Finished, run_python

ROOT = Path(__file__).resolve().parents[2]
TABLES = ("trace_hops", "trace_ids", "trace_journeys")


async def flushed(app: web.Application) -> None:
    """Everything the gateway queued for the trace is in the store."""
    await app[TRACE].flush()


async def raw_rows(config: Path) -> list[tuple[object, ...]]:
    """Every row of every trace table, as the database holds them."""
    settings = load_config(config)
    sql = [f"SELECT * FROM {table}" for table in TABLES]
    if settings.store.kind == "sqlite":
        with sqlite3.connect(settings.resolve(settings.store.path)) as db:
            return [tuple(row) for q in sql for row in db.execute(q)]
    conn = await _pg(settings)
    try:
        return [tuple(row) for q in sql for row in await conn.fetch(q)]
    finally:
        await conn.close()


async def execute(config: Path, statement: str) -> None:
    """Run one statement on the gateway's store database, behind the gateway's back."""
    settings = load_config(config)
    if settings.store.kind == "sqlite":
        with sqlite3.connect(settings.resolve(settings.store.path)) as db:
            db.execute(statement)
        return
    conn = await _pg(settings)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


async def _pg(settings: Settings) -> asyncpg.Connection:
    assert settings.store.dsn is not None and settings.store.schema_name is not None
    return await asyncpg.connect(
        settings.store.dsn, server_settings={"search_path": settings.store.schema_name}
    )


async def trace_cli(*args: str) -> Finished:
    """``uec-gateway trace ARGS`` as an operator runs it."""
    return await run_python(["-m", "gateway", "trace", *args], ROOT, timeout_s=60)
