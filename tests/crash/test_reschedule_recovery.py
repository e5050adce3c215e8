"""A reschedule interrupted between booking the new slot and releasing the old one.

Over a real gateway on 127.0.0.1 and the REST diary peer: the state a process
killed mid-reschedule leaves is made as that process would have left it (the
supplier holds the new booking beside the old one, under the reschedule's own
idempotency key; the ledger claim, with its work, belongs to a dead holder whose
lease has lapsed). ``reconcile``, as a starting gateway runs it, must leave the
patient with exactly one booking at the supplier and no slot held for nobody.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from adapters.domain import CallContext, RequestingOrganisation
from adapters.rest_diary.peer import PeerAuth, RunningPeer
from adapters.rest_diary.peer import start_peer as start_rest_peer
from gateway._claims import reschedule_work
from gateway.changes import RescheduleTo, rescheduled_request
from gateway.http.exchange import RUNTIME
from gateway.reconcile import reconcile
from gateway.routing import SlotHome
from gateway.service import BookingService, idempotency_key
from tests.bars._e2e import ADAPTER, _gateway, instant
from tests.bars.conftest import Sender
from tests.selftest import backends as b

Json = dict[str, Any]
SCOPE = "bars:ods:A1001"  # the BaRS door's scope for the test sender's organisation


@dataclass
class Rig:
    bars: Sender
    peer: RunningPeer

    @property
    def service(self) -> BookingService:
        service: BookingService = self.bars.client.app[RUNTIME].current.service
        return service

    async def booked_slots(self) -> list[str]:
        """The slots the supplier holds a live booking in (its own table)."""
        sql = "SELECT slot_id FROM appointments WHERE status = 'BOOKED' ORDER BY seq"
        async with self.peer.diary.conn.execute(sql) as cur:
            return [str(r[0]) for r in await cur.fetchall()]


@asynccontextmanager
async def _rig(tmp: Path, ports: Callable[[], int]) -> AsyncIterator[Rig]:
    auth = PeerAuth(kind="api_key", api_key=b.REST_KEY)
    peer = await start_rest_peer(str(tmp / "rest.sqlite3"), days=b.DAYS, auth=auth)
    adapter = f"""  - name: {ADAPTER}
    kind: rest-diary
    options:
      base_url: {peer.api}
      mappings: {b.ROOT}/mappings/rest_diary/demo
      auth: {{kind: api_key, key_env: {b.REST_KEY_ENV}}}
"""
    try:
        async with _gateway(tmp, ports, adapter, "918999197001") as (bars, _):
            yield Rig(bars, peer)
    finally:
        await peer.stop()


async def _book(rig: Rig) -> tuple[Json, Json]:
    """One appointment booked over BaRS, and another free slot to move it to."""
    slots = await rig.bars.free_slots(2)
    resp = await rig.bars.book(slots[0])
    assert resp.status == 201, await resp.text()
    return await resp.json(content_type=None), slots[1]


async def _crash_mid_reschedule(
    rig: Rig, appointment: Json, slot: Json, *, released: bool = False
) -> str:
    """What a process killed after booking ``slot`` and before hearing of the old one's
    release (``released``: the release reached the supplier) leaves: the supplier's new
    booking and the dead holder's claim. Returns its X-Request-Id."""
    service = rig.service
    request_id = str(uuid.uuid4())
    current = await service.read(appointment["id"])
    route = service.router.route(current.route)
    assert route is not None
    to = RescheduleTo(slot_id=slot["id"], start=instant(slot["start"]), end=instant(slot["end"]))
    ctx = CallContext(
        request_id=idempotency_key(SCOPE, request_id),
        correlation_id=request_id,
        deadline=time.monotonic() + 5,
        organisation=RequestingOrganisation(ods_code="A1001"),
    )
    home = SlotHome(route, current.booking.service_id)
    await route.adapter.book(rescheduled_request(current.booking, to, home, route.name), ctx)
    if released:
        ref, service_id = current.booking.supplier_ref, current.booking.service_id
        await route.adapter.cancel(ref, ctx, service_id=service_id)
    await service.store.claim_request(
        SCOPE,
        request_id,
        f"reschedule|{to.slot_id}|{appointment['id']}",
        service.clock() - timedelta(seconds=30),
        1.0,
        "a-gateway-process-that-died",
        work=reschedule_work(appointment["id"], current.version, to, ctx),
    )
    return request_id


async def test_a_restart_finishes_an_interrupted_reschedule(
    tmp_path: Path, unused_tcp_port_factory: Callable[[], int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Reconcile releases the old slot: one booking (the new slot), version 2 names it."""
    monkeypatch.setenv(b.REST_KEY_ENV, b.REST_KEY)
    async with _rig(tmp_path, unused_tcp_port_factory) as rig:
        appointment, slot = await _book(rig)
        request_id = await _crash_mid_reschedule(rig, appointment, slot)
        assert len(await rig.booked_slots()) == 2, "the crash left two supplier bookings"
        assert await reconcile(rig.service, 5.0) == 1
        assert len(await rig.booked_slots()) == 1
        read = await (await rig.bars.get(f"/Appointment/{appointment['id']}")).json(
            content_type=None
        )
        assert read["meta"]["versionId"] == "2" and read["status"] == "booked"
        assert read["slot"] == [{"reference": f"Slot/{slot['id']}"}]
        assert (read["start"], read["end"]) == (slot["start"], slot["end"])
        resend = await rig.bars.send(
            "PATCH",
            f"/Appointment/{appointment['id']}",
            {"resourceType": "Appointment", "id": appointment["id"], "slot": read["slot"],
             "start": slot["start"], "end": slot["end"], "meta": {"versionId": "1"}},
            **{"X-Request-Id": request_id},
        )  # fmt: skip
        assert resend.status == 409, await resend.text()
        assert (await resend.json(content_type=None))["issue"][0]["code"] == "duplicate"


async def test_a_restart_after_the_old_booking_was_released_keeps_the_new_one(
    tmp_path: Path, unused_tcp_port_factory: Callable[[], int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The release reached the supplier before the crash: reconcile keeps the new booking."""
    monkeypatch.setenv(b.REST_KEY_ENV, b.REST_KEY)
    async with _rig(tmp_path, unused_tcp_port_factory) as rig:
        appointment, slot = await _book(rig)
        await _crash_mid_reschedule(rig, appointment, slot, released=True)
        assert len(await rig.booked_slots()) == 1
        assert await reconcile(rig.service, 5.0) == 1
        assert len(await rig.booked_slots()) == 1, "the patient keeps exactly one booking"
        read = await (await rig.bars.get(f"/Appointment/{appointment['id']}")).json(
            content_type=None
        )
        assert read["meta"]["versionId"] == "2"
        assert read["slot"] == [{"reference": f"Slot/{slot['id']}"}]


async def test_a_reschedule_that_can_no_longer_finish_is_undone(
    tmp_path: Path, unused_tcp_port_factory: Callable[[], int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The appointment was cancelled meanwhile: reconcile cancels the new booking too."""
    monkeypatch.setenv(b.REST_KEY_ENV, b.REST_KEY)
    async with _rig(tmp_path, unused_tcp_port_factory) as rig:
        appointment, slot = await _book(rig)
        await _crash_mid_reschedule(rig, appointment, slot)
        cancel = await rig.bars.send(
            "PUT", f"/Appointment/{appointment['id']}", {**appointment, "status": "cancelled"}
        )
        assert cancel.status == 200, await cancel.text()
        assert len(await rig.booked_slots()) == 1, "the new slot is held for nobody"
        assert await reconcile(rig.service, 5.0) == 0
        assert await rig.booked_slots() == [], "no slot stays held for nobody"
