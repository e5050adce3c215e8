"""The journey trace part of the Store contract: every backend's test class subclasses
``TraceContract`` beside ``StoreContract``.

Speaks the ``TraceStore`` Protocol on the ``store`` fixture, except ``tamper``, which
edits a stored row behind the store's back as an intruder with database access would.
"""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest

from gateway.store.base import Store
from gateway.store.postgresql import PostgresStore
from gateway.store.sqlite import SqliteStore
from gateway.store.trace import GENESIS, AmbiguousId, TraceHop, chain_hash, first_break
from tests.store.contract import T0


def hop(kind: str, minutes: int = 0, outcome: str = "201", **ids: str) -> TraceHop:
    return TraceHop(T0 + timedelta(minutes=minutes), "stu3", kind, outcome, 12.5, ids)


async def tamper(store: Store, sql: str) -> None:
    """Run one statement on the store's own database, bypassing the store."""
    if isinstance(store, SqliteStore):
        await store._write(lambda db: db.execute(sql).close())
    elif isinstance(store, PostgresStore):
        async with store._acquire() as conn:
            await conn.execute(sql)
    else:
        raise AssertionError(f"no raw access to {type(store).__name__}")


class TraceContract:
    """Hops chain per journey, any one id finds the journey, met journeys join."""

    async def test_every_id_of_an_exchange_finds_its_hops_in_order(self, store: Store) -> None:
        """One exchange's hops are one journey, found from each id, chained from GENESIS."""
        first = hop("inbound.stu3.book", request_id="rq-1", ssp_trace_id="tr-1")
        call = hop("supplier.book", 0, "ok", supplier_ref="S-9")
        (journey_id,) = await store.append_trace([[first, call]])
        for value in ("rq-1", "tr-1", "S-9", journey_id):
            journey = await store.find_journey(value)
            assert journey is not None and journey.journey_id == journey_id
            assert [s.hop.kind for s in journey.hops] == ["inbound.stu3.book", "supplier.book"]
        chain = await store.journey_chain(journey_id)
        assert [s.seq for s in chain] == [1, 2]
        assert chain[0].prev_hash == GENESIS and chain[1].prev_hash == chain[0].hash
        assert chain[0].hop == first and first_break(chain) is None

    async def test_a_later_exchange_sharing_an_id_continues_the_chain(self, store: Store) -> None:
        """A cancel naming the booked appointment is appended to the booking's journey."""
        (booked,) = await store.append_trace([[hop("book", request_id="rq-1", appointment_id="A")]])
        later = hop("cancel", 5, "200", request_id="rq-2", appointment_id="A")
        assert await store.append_trace([[later]]) == [booked]
        journey = await store.find_journey("rq-2")
        assert journey is not None and [s.hop.kind for s in journey.hops] == ["book", "cancel"]
        chain = await store.journey_chain(booked)
        assert [s.seq for s in chain] == [1, 2] and first_break(chain) is None

    async def test_journeys_that_meet_join_into_the_oldest(self, store: Store) -> None:
        """A booking naming an earlier referral joins the referral's journey; both found."""
        referral, booking = await store.append_trace(
            [[hop("referral", 0, referral_id="R")], [hop("search", 1, request_id="rq-1")]]
        )
        assert referral != booking
        (joined,) = await store.append_trace(
            [[hop("book", 2, request_id="rq-1", referral_id="R", appointment_id="A")]]
        )
        assert joined == referral
        for value in ("R", "rq-1", "A", booking):
            journey = await store.find_journey(value)
            assert journey is not None and journey.journey_id == referral
            assert [s.hop.kind for s in journey.hops] == ["referral", "search", "book"]
        for journey_id in (referral, booking):
            assert first_break(await store.journey_chain(journey_id)) is None
        assert await store.trace_journey_ids() == [referral, booking]

    async def test_an_attribute_never_joins_journeys(self, store: Store) -> None:
        """Two bookings both at appointment version 1 stay two journeys."""
        one, two = await store.append_trace(
            [
                [hop("book", request_id="rq-1", appointment_version="1")],
                [hop("book", request_id="rq-2", appointment_version="1")],
            ]
        )
        assert one != two
        assert await store.find_journey("1") is None

    async def test_one_value_of_two_kinds_in_two_journeys_is_ambiguous(self, store: Store) -> None:
        """A value that is one journey's MSH-10 and another's supplier ref names both."""
        one, two = await store.append_trace(
            [[hop("hl7", msh10="M1")], [hop("book", 1, supplier_ref="M1")]]
        )
        with pytest.raises(AmbiguousId) as raised:
            await store.find_journey("M1")
        assert set(raised.value.journeys) == {one, two}
        assert await store.find_journey("never-seen") is None

    async def test_a_tampered_row_breaks_the_chain_at_that_entry(self, store: Store) -> None:
        """An edited outcome fails its own hash; a re-hashed edit fails the next entry."""
        hops = [hop("book", 0, request_id="rq-1"), hop("supplier.book", 0, "ok"), hop("c", 1)]
        (journey_id,) = await store.append_trace([hops])
        await tamper(
            store,
            f"UPDATE trace_hops SET outcome = '500' WHERE seq = 2 AND journey_id = '{journey_id}'",
        )
        broken = first_break(await store.journey_chain(journey_id))
        assert broken is not None and broken.seq == 2
        edited = dataclasses.replace(hops[1], outcome="500")
        rehashed = chain_hash(journey_id, 2, edited, broken.prev_hash)
        await tamper(store, f"UPDATE trace_hops SET hash = '{rehashed}' WHERE seq = 2")
        broken = first_break(await store.journey_chain(journey_id))
        assert broken is not None and broken.seq == 3  # its prev_hash is not entry 2's hash
