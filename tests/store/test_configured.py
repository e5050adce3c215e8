"""The store a configuration names: kind validation, the password from the environment,
and ``uec-gateway migrate``."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from gateway import config as config_module
from gateway.cli import main
from gateway.store import configured
from gateway.store._pg_schema import SCHEMA_VERSION
from gateway.store._sql import SCHEMA_VERSION as SQLITE_SCHEMA_VERSION
from gateway.store.postgresql import PostgresStore
from gateway.store.sqlite import SqliteStore
from tests.pg import PG_DSN, drop_schema, schema_name


def _config(tmp_path: Path, store: str) -> Path:
    path = tmp_path / "gateway.yaml"
    path.write_text(f"adapters: []\nservices: []\nstore:\n{store}")
    return path


def test_postgresql_without_a_dsn_is_refused_clearly(tmp_path: Path) -> None:
    """kind postgresql with no dsn fails validation naming the missing dsn."""
    with pytest.raises(config_module.ConfigError, match="'postgresql' needs dsn"):
        config_module.load(_config(tmp_path, "  kind: postgresql\n"))


@pytest.mark.parametrize(
    ("store", "message"),
    [
        ("  kind: mysql\n", "'sqlite' or 'postgresql'"),
        ("  kind: postgresql\n  dsn: postgresql://gw:pw@db/gw\n", "must not hold a password"),
        ("  kind: postgresql\n  dsn: mysql://gw@db/gw\n", "postgresql://"),
        ("  kind: postgresql\n  dsn: postgresql://gw@db/gw\n  pool_size: 0\n", "pool_size"),
    ],
)
def test_a_bad_store_section_is_refused(tmp_path: Path, store: str, message: str) -> None:
    """An unknown kind, a password in the dsn, another scheme or an empty pool are refused."""
    with pytest.raises(config_module.ConfigError, match=message):
        config_module.load(_config(tmp_path, store))


def test_the_store_is_chosen_by_kind(tmp_path: Path) -> None:
    """sqlite builds a SqliteStore; postgresql a PostgresStore with the variable's password."""
    sqlite = config_module.load(_config(tmp_path, "  kind: sqlite\n"))
    assert isinstance(configured.build(sqlite), SqliteStore)
    pg = config_module.load(
        _config(
            tmp_path,
            "  kind: postgresql\n  dsn: postgresql://gw@db/gw\n  password_env: GW_DB_PASSWORD\n",
        )
    )
    built = configured.build(pg, environ={"GW_DB_PASSWORD": "pw"})
    assert isinstance(built, PostgresStore)
    with pytest.raises(config_module.ConfigError, match="GW_DB_PASSWORD is not set"):
        configured.build(pg, environ={})


def test_check_config_reports_an_unset_password_variable(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """check-config names the store's password variable when it is not set."""
    monkeypatch.delenv("GW_DB_PASSWORD_UNSET", raising=False)
    path = _config(
        tmp_path,
        "  kind: postgresql\n  dsn: postgresql://gw@db/gw\n  password_env: GW_DB_PASSWORD_UNSET\n",
    )
    assert main(["check-config", str(path)]) == 1
    assert "GW_DB_PASSWORD_UNSET is not set" in capsys.readouterr().err


def test_a_memory_store_path_is_memory_not_a_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """store.path ':memory:' builds the in-memory store (as a diary's database does): no file."""
    path = _config(tmp_path, "  path: ':memory:'\n")
    settings = config_module.load(path)
    assert settings.store.in_memory
    store = configured.build(settings)
    assert isinstance(store, SqliteStore) and not store.shared
    assert main(["migrate", "--config", str(path)]) == 0
    assert main(["check-config", str(path)]) == 0
    assert "OK" in capsys.readouterr().out
    assert not (tmp_path / ":memory:").exists()


def test_migrate_brings_an_sqlite_store_up_to_date(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """uec-gateway migrate creates the SQLite file at the current schema and says so."""
    path = _config(tmp_path, "  kind: sqlite\n  path: var/g.sqlite3\n")
    assert main(["migrate", "--config", str(path)]) == 0
    assert capsys.readouterr().out.strip() == (
        f"sqlite store at schema version {SQLITE_SCHEMA_VERSION}"
    )
    assert (tmp_path / "var/g.sqlite3").is_file()


def test_migrate_brings_a_postgresql_schema_up_to_date_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """uec-gateway migrate applies the migrations to a new schema; run again it changes nothing."""
    schema = schema_name()
    asyncio.run(drop_schema(schema))  # skips here when the server is unreachable
    path = _config(tmp_path, f"  kind: postgresql\n  dsn: {PG_DSN}\n  schema_name: {schema}\n")
    try:
        for _ in range(2):
            assert main(["migrate", "--config", str(path)]) == 0
            out = capsys.readouterr().out.strip()
            assert out == f"postgresql store at schema version {SCHEMA_VERSION}"
    finally:
        asyncio.run(drop_schema(schema))


def test_migrate_against_an_unreachable_server_fails_with_a_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """With nothing listening, migrate exits 1 and says where it could not connect."""
    path = _config(tmp_path, "  kind: postgresql\n  dsn: postgresql://gw@127.0.0.1:1/gw\n")
    assert main(["migrate", "--config", str(path)]) == 1
    assert "cannot connect to PostgreSQL at 127.0.0.1:1/gw" in capsys.readouterr().err


def test_the_replicas_example_checks_with_its_password_variable_set(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """config/example-replicas.yaml is valid once GATEWAY_DB_PASSWORD is set."""
    monkeypatch.setenv("GATEWAY_DB_PASSWORD", "not-a-real-password")
    example = Path(__file__).resolve().parents[2] / "config/example-replicas.yaml"
    assert main(["check-config", str(example)]) == 0
    assert "OK" in capsys.readouterr().out
