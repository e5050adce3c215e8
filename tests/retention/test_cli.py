"""``uec-gateway purge --config FILE [--dry-run]`` over real SQLite and PostgreSQL stores."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway import retention
from gateway.cli import main
from gateway.store import Store
from gateway.store.postgresql import PostgresStore
from gateway.store.sqlite import SqliteStore
from tests.pg import PG_DSN, drop_schema, schema_name
from tests.store.retention_contract import NOW, populate

RETENTION = "retention:\n  audit_days: 30\n"
EXPECTED = ["audit: 1", "ledger: 1", "journal: 4", "receipts: 1", "slot_homes: 2", "messages: 0"]
NOTHING = ["audit: 0", "ledger: 0", "journal: 0", "receipts: 0", "slot_homes: 0", "messages: 0"]


async def _populate(store: Store) -> None:
    await store.open()
    try:
        await populate(store)
    finally:
        await store.close()


def _purge(args: list[str], capsys: pytest.CaptureFixture[str]) -> list[str]:
    assert main(["purge", *args]) == 0
    return [line.strip() for line in capsys.readouterr().out.splitlines()]


@pytest.fixture(autouse=True)
def _clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """The purge's clock reads ``NOW``, the instant the rows were made relative to."""
    monkeypatch.setattr(retention, "utcnow", lambda: NOW)


def _check_runs(config: Path, kind: str, capsys: pytest.CaptureFixture[str]) -> None:
    dry = _purge(["--config", str(config), "--dry-run"], capsys)
    assert dry == [f"{kind} store: would purge 9 row(s)", *EXPECTED]
    assert _purge(["--config", str(config), "--dry-run"], capsys) == dry, "nothing deleted"
    real = _purge(["--config", str(config)], capsys)
    assert real == [f"{kind} store: purged 9 row(s)", *EXPECTED]
    again = _purge(["--config", str(config)], capsys)
    assert again == [f"{kind} store: purged 0 row(s)", *NOTHING]


def test_purge_over_sqlite_counts_dry_then_deletes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A dry run prints the counts and deletes nothing; the real run deletes those rows."""
    path = tmp_path / "var/g.sqlite3"
    asyncio.run(_populate(SqliteStore(path, pointer_journal=True)))
    config = tmp_path / "gateway.yaml"
    config.write_text(f"adapters: []\nservices: []\nstore:\n  path: var/g.sqlite3\n{RETENTION}")
    _check_runs(config, "sqlite", capsys)


@pytest.fixture
def pg_schema_name() -> Iterator[str]:
    name = schema_name()
    asyncio.run(drop_schema(name))  # skips here when the server is unreachable
    try:
        yield name
    finally:
        asyncio.run(drop_schema(name))


def test_purge_over_postgresql_counts_dry_then_deletes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], pg_schema_name: str
) -> None:
    """The same over PostgreSQL: dry counts, then the real purge, then nothing left."""
    store = PostgresStore(PG_DSN, schema=pg_schema_name, pointer_journal=True)
    asyncio.run(_populate(store))
    config = tmp_path / "gateway.yaml"
    config.write_text(
        "adapters: []\nservices: []\nstore:\n  kind: postgresql\n"
        f"  dsn: {PG_DSN}\n  schema_name: {pg_schema_name}\n{RETENTION}"
    )
    _check_runs(config, "postgresql", capsys)


def test_purge_against_an_unreachable_server_fails_with_a_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """With nothing listening, purge exits 1 and says where it could not connect."""
    config = tmp_path / "gateway.yaml"
    config.write_text(
        "adapters: []\nservices: []\nstore:\n  kind: postgresql\n"
        "  dsn: postgresql://gw@127.0.0.1:1/gw\n"
    )
    assert main(["purge", "--config", str(config)]) == 1
    assert "cannot connect to PostgreSQL at 127.0.0.1:1/gw" in capsys.readouterr().err
