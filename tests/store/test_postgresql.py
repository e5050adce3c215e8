"""PostgresStore: the shared Store contract, plus what only several replicas on one
database show (each test in a fresh schema of the ``test`` database)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from gateway.store.base import Store
from gateway.store.postgresql import PostgresStore
from tests.pg import PgSchema
from tests.store.contract import StoreContract
from tests.store.pointer_contract import PointerJournalContract


@pytest.fixture
async def store(pg_schema: PgSchema) -> AsyncIterator[PostgresStore]:
    opened = PostgresStore(pg_schema.dsn, schema=pg_schema.schema)
    await opened.open()
    try:
        yield opened
    finally:
        await opened.close()


@pytest.fixture
async def journaled_store(pg_schema: PgSchema) -> AsyncIterator[PostgresStore]:
    opened = PostgresStore(pg_schema.dsn, schema=pg_schema.schema, pointer_journal=True)
    await opened.open()
    try:
        yield opened
    finally:
        await opened.close()


class TestPostgresStoreContract(StoreContract, PointerJournalContract):
    """The shared contract (appointments, referrals, registry journal) on PostgreSQL."""


def test_postgres_store_satisfies_the_protocol() -> None:
    """PostgresStore is usable wherever a Store is expected (checked by mypy, too)."""
    store: Store = PostgresStore("postgresql://gateway@127.0.0.1/gateway")
    assert isinstance(store, PostgresStore)
