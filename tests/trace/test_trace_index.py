"""The trace's id lookups on SQLite probe the index instead of scanning every id."""

from __future__ import annotations

import sqlite3

import pytest

from gateway.store import _trace_sql


@pytest.mark.parametrize("pairs", [1, 3, 8])
def test_finding_the_journeys_of_an_exchanges_ids_never_scans_the_id_table(pairs: int) -> None:
    """Each append looks its ids up by primary key, so it does not slow as the trace grows."""
    db = sqlite3.connect(":memory:")
    for statement in _trace_sql.MIGRATION:
        db.execute(statement)
    params = [f"v{n}" if k == 0 else "request_id" for n in range(pairs) for k in (0, 1)]
    plan = [
        row[3] for row in db.execute(f"EXPLAIN QUERY PLAN {_trace_sql.roots_sql(pairs)}", params)
    ]
    assert not [step for step in plan if step.startswith("SCAN")], plan
    assert any("SEARCH i USING PRIMARY KEY" in step for step in plan), plan
