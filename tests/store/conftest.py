"""Fixtures of the store tests: a fresh PostgreSQL schema per test (see ``tests/pg.py``)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.pg import PgSchema, fresh_schema


@pytest.fixture
async def pg_schema() -> AsyncIterator[PgSchema]:
    async with fresh_schema() as found:
        yield found
