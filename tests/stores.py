"""Which store the end-to-end tests' gateways use: SQLite files, or PostgreSQL.

``UEC_TEST_STORE=postgresql`` puts every gateway a test configures through
``store_yaml`` in the local PostgreSQL server (``tests/pg.PG_DSN``), each in a schema
of its own named from its would-be SQLite path (so a gateway restarted on the same
folder finds its store again). ``.ci/run`` runs the end-to-end suites both ways;
``tests/conftest.py`` drops the schemas at the end of the session.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from tests.pg import PG_DSN

STORE_ENV = "UEC_TEST_STORE"
#: Every schema ``store_yaml`` names starts with this (and only those are dropped).
SCHEMA_PREFIX = "e2e_"


def on_postgresql() -> bool:
    return os.environ.get(STORE_ENV, "sqlite") == "postgresql"


def store_yaml(path: Path, indent: str = "  ") -> str:
    """The ``store:`` section's body (first line unindented) for a store at ``path``."""
    if not on_postgresql():
        return f"path: {path}"
    schema = SCHEMA_PREFIX + hashlib.sha256(str(path).encode()).hexdigest()[:20]
    return f"kind: postgresql\n{indent}dsn: {PG_DSN}\n{indent}schema_name: {schema}"
