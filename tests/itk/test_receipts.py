"""The store's ITK receipts: claimed once, answered durably, taken over after a lapsed lease."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from gateway.store.sqlite import SqliteStore

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


async def test_a_claim_is_exclusive_until_answered_then_replayed(tmp_path: Path) -> None:
    """A second claim sees the pending receipt; after the answer, every claim gets it back."""
    store = SqliteStore(tmp_path / "s.sqlite3")
    await store.open()
    try:
        assert await store.claim_itk_receipt("T1", "h", "a", NOW, 30) is None
        held = await store.claim_itk_receipt("T1", "h", "b", NOW, 30)
        assert held is not None and not held.answered
        await store.answer_itk_receipt("T1", "a", b"<ok/>", ["R1"], NOW)
        held = await store.claim_itk_receipt("T1", "h", "b", NOW, 30)
        assert held is not None and held.answered and held.answer == b"<ok/>"
        assert held.referral_ids == ("R1",)
    finally:
        await store.close()


async def test_a_lapsed_claim_is_taken_over_and_a_released_one_forgotten(tmp_path: Path) -> None:
    """A claim whose lease ran out (its process died) goes to the next sender; release forgets."""
    store = SqliteStore(tmp_path / "s.sqlite3")
    await store.open()
    try:
        assert await store.claim_itk_receipt("T1", "h", "a", NOW, 30) is None
        later = NOW + timedelta(seconds=31)
        assert await store.claim_itk_receipt("T1", "h", "b", later, 30) is None
        await store.answer_itk_receipt("T1", "a", b"late", [], later)  # no longer a's
        held = await store.claim_itk_receipt("T1", "h", "c", later, 30)
        assert held is not None and not held.answered
        await store.release_itk_receipt("T1", "b")
        assert await store.claim_itk_receipt("T1", "h", "c", later, 30) is None
    finally:
        await store.close()


async def test_receipts_survive_reopening(tmp_path: Path) -> None:
    """An answered receipt is still there after the store is closed and opened again."""
    store = SqliteStore(tmp_path / "s.sqlite3")
    await store.open()
    assert await store.claim_itk_receipt("T1", "h", "a", NOW, 30) is None
    await store.answer_itk_receipt("T1", "a", b"<ok/>", [], NOW)
    await store.close()
    store = SqliteStore(tmp_path / "s.sqlite3")
    await store.open()
    try:
        held = await store.claim_itk_receipt("T1", "h", "z", NOW, 30)
        assert held is not None and held.answer == b"<ok/>"
    finally:
        await store.close()
