"""The diary's version: a counter every change to ``slots`` moves, in the same transaction.

A slot search result is a function of the ``slots`` table alone (the directory is
fixed for the adapter's life), so a result read at version *n* is the answer to the
same query for as long as the version stays *n* — whichever process or replica
changed the table. The adapter caches results by (query, version); the gateway
caches their rendering by the same token (issue 14: "cache whole results per …
diary version where the adapter can say exactly when its diary changed").

Triggers, not calls in the write paths, move the counter, so no writer can forget
it: a booking, a cancellation, a slot set busy, slots generated or purged. The
counter is read *before* the slots: a change committed between the two reads
makes a result newer than its version, never older, and the version it is filed
under is never read again (versions only grow).
"""

from __future__ import annotations

#: SQLite: row triggers (SQLite has no statement triggers); one counter row.
SQLITE_SCHEMA = """
CREATE TABLE IF NOT EXISTS diary_version (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    n INTEGER NOT NULL
);
INSERT OR IGNORE INTO diary_version (id, n) VALUES (1, 0);
CREATE TRIGGER IF NOT EXISTS slots_added AFTER INSERT ON slots
BEGIN UPDATE diary_version SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER IF NOT EXISTS slots_changed AFTER UPDATE ON slots
BEGIN UPDATE diary_version SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER IF NOT EXISTS slots_removed AFTER DELETE ON slots
BEGIN UPDATE diary_version SET n = n + 1 WHERE id = 1; END;
"""

#: PostgreSQL: one statement trigger; the row update is transactional, so a reader
#: sees the new number only with the change it counts (a sequence would not be).
PG_SCHEMA = """
CREATE TABLE IF NOT EXISTS diary_version (
    id integer PRIMARY KEY CHECK (id = 1),
    n bigint NOT NULL
);
INSERT INTO diary_version (id, n) VALUES (1, 0) ON CONFLICT (id) DO NOTHING;
CREATE OR REPLACE FUNCTION diary_version_bump() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE diary_version SET n = n + 1 WHERE id = 1;
    RETURN NULL;
END $$;
CREATE OR REPLACE TRIGGER slots_changed AFTER INSERT OR UPDATE OR DELETE ON slots
FOR EACH STATEMENT EXECUTE FUNCTION diary_version_bump();
"""

SELECT_VERSION = "SELECT n FROM diary_version WHERE id = 1"
