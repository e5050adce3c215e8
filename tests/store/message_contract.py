"""The message-journal part of the Store contract: every backend's test class subclasses
``MessageJournalContract`` beside ``StoreContract``.

Speaks only the ``Store`` Protocol, on the ``store`` fixture (an opened, empty store).
Every instant is relative to ``T0``.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from gateway.store import PurgeCutoffs, Store
from gateway.store.messages import APPLIED, FAILED, MessageRecord
from tests.store.contract import T0

SEALED = bytes(range(256)) * 3


def make_message(number: int, minutes: int = 0, **changes: object) -> MessageRecord:
    """A failed inbound SIU journaled ``minutes`` after ``T0``, its payload sealed bytes."""
    found = MessageRecord(
        id=f"msg-{number:04d}",
        at=T0 + timedelta(minutes=minutes),
        direction="in",
        channel="hl7v2.siu",
        route="pas",
        sender="PAS|PAS-FACILITY",
        control_id=f"CTRL{number}",
        outcome=FAILED,
        reason_code="AE:103",
        reason="no identifier system for RVR01^MR",
        content_hash=f"{number:064x}",
        payload=SEALED,
        sealed=True,
    )
    return replace(found, **changes)  # type: ignore[arg-type]


class MessageJournalContract:
    async def test_a_journaled_message_reads_back_whole(self, store: Store) -> None:
        """Every field of a journaled message, the sealed payload's bytes included, reads back."""
        entry = make_message(1)
        await store.record_message(entry)
        assert await store.message(entry.id) == entry
        assert await store.message("msg-none") is None

    async def test_metadata_only_messages_keep_no_payload(self, store: Store) -> None:
        """A message journaled without its payload reads back with none."""
        await store.record_message(make_message(2, payload=None, sealed=False))
        found = await store.message("msg-0002")
        assert found is not None and found.payload is None and not found.sealed

    async def test_a_window_lists_one_direction_oldest_first(self, store: Store) -> None:
        """``messages_between`` is half-open, ordered by time, and keeps to one direction."""
        for number, minutes in ((3, 30), (4, 10), (5, 60)):
            await store.record_message(make_message(number, minutes))
        await store.record_message(make_message(6, 20, direction="out"))
        found = await store.messages_between(T0, T0 + timedelta(minutes=60))
        assert [m.id for m in found] == ["msg-0004", "msg-0003"]
        outbound = await store.messages_between(T0, T0 + timedelta(hours=1), "out")
        assert [m.id for m in outbound] == ["msg-0006"]

    async def test_a_replay_outcome_is_recorded_on_the_row(self, store: Store) -> None:
        """Settling a message records its new outcome, the replay's time and the replay count."""
        await store.record_message(make_message(7))
        at = T0 + timedelta(hours=2)
        await store.settle_message("msg-0007", APPLIED, "", "", at)
        await store.settle_message("msg-0007", APPLIED, "", "", at + timedelta(minutes=1))
        found = await store.message("msg-0007")
        assert found is not None
        assert (found.outcome, found.reason_code, found.replays) == (APPLIED, "", 2)
        assert found.replayed_at == at + timedelta(minutes=1)

    async def test_retention_purges_only_messages_past_their_period(self, store: Store) -> None:
        """``messages`` purges journaled messages older than its cutoff and keeps the rest."""
        await store.record_message(make_message(8, 0))
        await store.record_message(make_message(9, 120))
        cutoffs = PurgeCutoffs(messages=T0 + timedelta(hours=1))
        assert (await store.purge(cutoffs, dry_run=True)).messages == 1
        assert (await store.purge(cutoffs)).messages == 1
        assert await store.message("msg-0008") is None
        assert await store.message("msg-0009") is not None
