"""An SIU message from the PAS delivered to every replica is applied once (issue 13 item 4).

Two gateway replicas share one store; each runs the ``hl7v2`` adapter's SIU listener
(behind a TCP load balancer, a PAS that resends after a lost ACK may reach either, or
both). Each replica keeps its own listener journal; what makes the message count once is
the store: a supplier-side change is recorded only when the booking differs from the
version held (``gateway/changes.py``), and two replicas adding the same next version
conflict, so the loser re-reads and finds nothing left to do.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest

from adapters.domain import BookingStatus, utcnow
from adapters.hl7v2.peer import DeskPatient, PasPeer
from adapters.hl7v2.peer.diary import CANCELLED
from gateway.http.exchange import RUNTIME, STORE
from tests.api.conftest import Consumer
from tests.hl7v2.helpers import (
    DEMO_MAPPINGS,
    UTC_SERVICE,
    acks_of,
    desk_siu,
    exchange_frame,
    siu_text,
)
from tests.replicas.conftest import Replicas

PATIENT = DeskPatient(
    "Okonkwo", "Ada", "F", date(1980, 1, 2), nhs_number="9434765919", mrn="M1", postcode="FB1 2CD"
)


@pytest.fixture
async def peer(tmp_path: Path) -> AsyncIterator[PasPeer]:
    """The reference PAS peer with a fresh diary (it is told of no listener)."""
    pas = await PasPeer.start(str(tmp_path / "pas.sqlite3"), horizon_days=2)
    pas.notify_to(None)
    yield pas
    await pas.close()


def _listener(peer: PasPeer, tmp_path: Path, ports: list[int]) -> object:
    def extra(index: int) -> tuple[str, str]:
        adapter = f"""  - name: pas
    kind: hl7v2
    options:
      host: 127.0.0.1
      port: {peer.port}
      mappings: {DEMO_MAPPINGS}
      database: {tmp_path / f"journal-{index}.sqlite3"}
      listen: {{host: 127.0.0.1, port: {ports[index]}}}
      reconcile_interval_s: 3600
"""
        return adapter, f'  - id: "{UTC_SERVICE}"\n    adapter: pas\n'

    return extra


async def _versions(replica: Consumer, filler_id: str) -> list[BookingStatus]:
    store = replica.client.app[STORE]  # type: ignore[index]
    found = await store.find_by_supplier_ref("pas", filler_id)
    if found is None:
        return []
    return [v.booking.status for v in await store.versions(found.appointment_id)]


async def _settled(replica: Consumer, filler_id: str, count: int) -> None:
    """Wait (bounded) until ``count`` versions are held, then a little more for strays."""
    for _ in range(160):
        if len(await _versions(replica, filler_id)) >= count:
            break
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.3)


async def test_one_siu_sent_to_both_replicas_at_once_makes_one_version(
    replicas: Replicas, peer: PasPeer, tmp_path: Path, unused_tcp_port_factory: object
) -> None:
    """A desk booking's SIU^S12 sent to both listeners at once: AA from each, one version."""
    ports = [unused_tcp_port_factory() for _ in range(2)]  # type: ignore[operator]
    a, b = await replicas.start(2, extra=_listener(peer, tmp_path, ports))
    runtime = a.client.app[RUNTIME]  # type: ignore[index]
    adapter = runtime.current.router.route("pas").adapter
    item = await desk_siu(peer, adapter, PATIENT)
    filler = item.filler_id
    text = siu_text(peer, "S12", item, "MSG-R1").encode()
    answers = await asyncio.gather(
        *(exchange_frame(("127.0.0.1", port), text) for port in ports)
    )
    assert [acks_of(answer)[0][0] for answer in answers] == ["AA", "AA"]
    await _settled(a, filler, 1)
    assert await _versions(a, filler) == [BookingStatus.BOOKED]
    assert await _versions(b, filler) == [BookingStatus.BOOKED]
    store = b.client.app[STORE]  # type: ignore[index]
    held = await store.find_by_nhs_number(PATIENT.nhs_number, utcnow())
    assert len(held) == 1, "one appointment, not one per replica that heard the SIU"

    cancel = siu_text(peer, "S15", replace(item, status=CANCELLED), "MSG-R2").encode()
    for port in ports:  # the PAS resends to the other replica after a lost ACK
        assert acks_of(await exchange_frame(("127.0.0.1", port), cancel))[0][0] == "AA"
    await _settled(b, filler, 2)
    assert await _versions(a, filler) == [BookingStatus.BOOKED, BookingStatus.CANCELLED]
