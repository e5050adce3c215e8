"""The retention part of the Store contract: every backend's test class subclasses
``RetentionContract`` beside ``StoreContract``.

Speaks only the ``Store`` Protocol, on the ``journaled_store`` fixture (an opened,
empty store whose pointer journal is on). Every instant is relative to ``NOW``.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from gateway.store import _retention
from gateway.store.base import (
    AuditEntry,
    ClaimState,
    Hl7Origin,
    NoticeOutcome,
    PurgeCounts,
    PurgeCutoffs,
    SlotHomeRow,
    Store,
)
from tests.store.contract import T0, make_version
from tests.store.referral_contract import make_referral

NOW = T0 + timedelta(days=60)
#: Finished well before the cutoff.
OLD = T0 + timedelta(hours=1)
#: Finished after the cutoff.
RECENT = NOW - timedelta(days=1)
CUTOFF = NOW - timedelta(days=30)
EVERY_KIND = PurgeCutoffs(
    audit=CUTOFF, ledger=CUTOFF, journal=CUTOFF, receipts=CUTOFF, slot_homes=CUTOFF
)
#: What ``populate`` makes eligible under ``EVERY_KIND``.
ELIGIBLE = PurgeCounts(audit=1, ledger=1, journal=4, receipts=1, slot_homes=2)
LEASE_S = 30.0
SCOPE = "200000000001"


def _audit(at_offset: timedelta, path: str) -> AuditEntry:
    return AuditEntry(at=NOW - at_offset, interaction="search", method="GET", path=path, status=200)


async def populate(store: Store) -> None:
    """Old and recent rows of every kind, finished and not."""
    # Registry journal: p1 delivered and p2 refused long ago, p3 delivered lately, p4 pending.
    for n in range(1, 5):
        await store.add_version(make_version(f"p{n}", 1, supplier_ref=f"P{n}"))
    leased = [await store.lease_pointer_work("w", OLD, LEASE_S) for _ in range(3)]
    assert [w.appointment_id if w else None for w in leased] == ["p1", "p2", "p3"]
    first, second, third = (w for w in leased if w is not None)
    await store.finish_pointer_work(first, OLD, None)
    await store.refuse_pointer_work(second, OLD, "registry_refused")
    await store.finish_pointer_work(third, RECENT, None)

    # HL7 outbox: h1 delivered and h2 held long ago, h3 refused lately, h4 pending.
    for n in range(1, 5):
        await store.record_hl7_origin(Hl7Origin(f"h{n}", "APP", "FAC", "", T0))
        await store.add_version(make_version(f"h{n}", 1, supplier_ref=f"H{n}"))
        await store.add_version(make_version(f"h{n}", 2, supplier_ref=f"H{n}"), supplier_side=True)
    notices = [await store.lease_hl7_notice("w", OLD, LEASE_S) for _ in range(3)]
    assert [w.appointment_id if w else None for w in notices] == ["h1", "h2", "h3"]
    one, two, three = (w for w in notices if w is not None)
    await store.finish_hl7_notice(one, OLD, NoticeOutcome.DELIVERED)
    await store.finish_hl7_notice(two, OLD, NoticeOutcome.HELD)
    await store.finish_hl7_notice(three, RECENT, NoticeOutcome.REFUSED, "AR")

    # Ledger: a done claim and a pending one (in doubt) long ago, a done one lately.
    await store.claim_request(SCOPE, "old-done", "h1", OLD, LEASE_S, "w")
    await store.complete_request(SCOPE, "old-done", "p1", 1)
    await store.claim_request(SCOPE, "old-pending", "h2", OLD, LEASE_S, "w", work="{}")
    await store.claim_request(SCOPE, "recent-done", "h3", RECENT, LEASE_S, "w")
    await store.complete_request(SCOPE, "recent-done", "p2", 1)

    # ITK receipts: one answered long ago, one claimed long ago (a live long lease), one
    # answered lately.
    await store.claim_itk_receipt("old-answered", "e1", "w", OLD, LEASE_S)
    await store.answer_itk_receipt("old-answered", "w", b"<ack/>", ["ref-1"], OLD)
    await store.claim_itk_receipt("old-claimed", "e2", "w", OLD, (NOW - OLD).total_seconds() * 2)
    await store.claim_itk_receipt("recent-answered", "e3", "w", RECENT, LEASE_S)
    await store.answer_itk_receipt("recent-answered", "w", b"<ack/>", [], RECENT)

    # Slot homes: two seen long ago, one seen long ago and again lately.
    await store.record_slot_homes(
        [SlotHomeRow("slot:old", "r1", None), SlotHomeRow("schedule:old", "r1", "svc-1")], OLD
    )
    await store.record_slot_homes([SlotHomeRow("slot:again", "r1", None)], OLD)
    await store.record_slot_homes([SlotHomeRow("slot:again", "r2", None)], RECENT)

    await store.record_audit(_audit(NOW - OLD, "/old"))
    await store.record_audit(_audit(timedelta(days=1), "/recent"))
    await store.add_referral_version(make_referral("ref-1", 1, authored=T0))


class RetentionContract:
    """Purge deletes old finished rows only, counts them, and never touches the record."""

    async def test_old_finished_rows_go_and_are_counted(self, journaled_store: Store) -> None:
        """Every kind's finished rows older than its cutoff go, and the counts say so."""
        store = journaled_store
        await populate(store)
        assert await store.purge(EVERY_KIND) == ELIGIBLE
        assert [e.path for e in await store.audit_entries()] == ["/recent"]
        assert await store.find_claim(SCOPE, "old-done") is None
        assert await store.slot_home("slot:old") is None
        assert await store.slot_home("schedule:old") is None
        assert [n.appointment_id for n in await store.hl7_notices("h1")] == []
        assert [n.appointment_id for n in await store.hl7_notices("h2")] == []
        backlog = await store.pointer_backlog(stuck_after=10)
        assert backlog.refused == 0, "the old refused entry went"
        fresh = await store.claim_itk_receipt("old-answered", "e1", "w2", NOW, LEASE_S)
        assert fresh is None, "a forgotten tracking id is claimed afresh"

    async def test_recent_and_unfinished_rows_stay_whatever_their_age(
        self, journaled_store: Store
    ) -> None:
        """Recent rows stay; pending claims, pending journal and outbox entries and
        claimed receipts stay however old they are."""
        store = journaled_store
        await populate(store)
        await store.purge(EVERY_KIND)
        pending = await store.find_claim(SCOPE, "old-pending")
        assert pending is not None and pending.state is ClaimState.PENDING
        assert [c.request_id for c in await store.in_doubt_claims()] == ["old-pending"]
        done = await store.find_claim(SCOPE, "recent-done")
        assert done is not None and done.state is ClaimState.DONE
        claimed = await store.claim_itk_receipt("old-claimed", "e2", "w2", NOW, LEASE_S)
        assert claimed is not None and not claimed.answered
        answered = await store.claim_itk_receipt("recent-answered", "e3", "w2", NOW, LEASE_S)
        assert answered is not None and answered.answered
        assert [(n.state) for n in await store.hl7_notices("h3")] == ["refused"]
        assert [(n.state) for n in await store.hl7_notices("h4")] == ["pending"]
        again = await store.slot_home("slot:again")
        assert again is not None and again.route == "r2"
        backlog = await store.pointer_backlog(stuck_after=10)
        # p4 and the journal entries of h1..h4's versions, never leased.
        assert backlog.pending == 1 + 8
        work = await store.lease_pointer_work("w2", NOW, LEASE_S)
        assert work is not None and work.appointment_id == "p4"

    async def test_versions_are_never_purged(self, journaled_store: Store) -> None:
        """Appointment and referral versions are the record: none goes, however old."""
        store = journaled_store
        await populate(store)
        await store.purge(EVERY_KIND)
        for name in ("p1", "p2", "p3", "p4"):
            assert [v.version for v in await store.versions(name)] == [1]
        assert [v.version for v in await store.versions("h1")] == [1, 2]
        assert [v.version for v in await store.referral_versions("ref-1")] == [1]
        origin = await store.hl7_origin("h1")
        assert origin is not None

    async def test_no_cutoff_keeps_for_ever(self, journaled_store: Store) -> None:
        """A kind without a cutoff keeps all its rows; the others are purged alone."""
        store = journaled_store
        await populate(store)
        assert await store.purge(PurgeCutoffs()) == PurgeCounts()
        assert await store.purge(PurgeCutoffs(ledger=CUTOFF)) == PurgeCounts(ledger=1)
        assert len(await store.audit_entries()) == 2
        assert await store.slot_home("slot:old") is not None
        assert await store.purge(EVERY_KIND) == PurgeCounts(
            audit=1, journal=4, receipts=1, slot_homes=2
        )

    async def test_a_dry_run_counts_and_deletes_nothing(self, journaled_store: Store) -> None:
        """A dry run gives the counts a real purge then deletes; a second purge finds none."""
        store = journaled_store
        await populate(store)
        assert await store.purge(EVERY_KIND, dry_run=True) == ELIGIBLE
        assert await store.purge(EVERY_KIND, dry_run=True) == ELIGIBLE
        assert await store.purge(EVERY_KIND) == ELIGIBLE
        assert await store.purge(EVERY_KIND) == PurgeCounts()
        assert await store.purge(EVERY_KIND, dry_run=True) == PurgeCounts()

    async def test_a_purge_runs_in_batches_to_the_end(
        self, journaled_store: Store, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """More eligible rows than one batch: every batch is deleted, and counted once."""
        monkeypatch.setattr(_retention, "BATCH", 2)
        store = journaled_store
        for n in range(7):
            await store.record_audit(_audit(timedelta(days=40, minutes=n), f"/old/{n}"))
        await store.record_audit(_audit(timedelta(days=1), "/recent"))
        assert await store.purge(PurgeCutoffs(audit=CUTOFF)) == PurgeCounts(audit=7)
        assert [e.path for e in await store.audit_entries()] == ["/recent"]
