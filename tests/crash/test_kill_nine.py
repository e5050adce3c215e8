"""Crash safety: SIGKILL the gateway at random while consumers book; nothing lost or doubled.

A real ``uec-gateway serve`` process books at the embedded diary (in-process
SQLite) and at the REST diary peer (its own process) for several concurrent
consumers. It is killed several times at seeded random moments, sometimes
frozen first so the supplier finishes bookings whose answers the gateway never
reads, and restarted on the same store each time. Then every request whose
answer was lost is resent, as a consumer would, until it is resolved.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import time
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import aiohttp

from tests.crash._rig import (
    EMBEDDED_SERVICE,
    REST_SERVICE,
    Consumer,
    Rig,
    booking_body,
    kill,
    slot_identifier,
    supplier_keys,
)

#: Replay a failure with CRASH_SEED=<the seed in its message>.
SEED = int(os.environ.get("CRASH_SEED", "91014"))
KILLS = 4
CLIENTS = 4
#: Consumers pick among the first few free slots, so they compete for some of them.
CHOICE = 15
RESOLVE_WITHIN_S = 20.0


@dataclass
class Sent:
    """One booking request and everything its sends were answered."""

    request_id: str
    body: dict[str, Any]
    slot: str
    statuses: list[int] = field(default_factory=list)
    lost: int = 0
    #: (appointment id, version) once an answer names it.
    appointment: tuple[str, int] | None = None
    refused: bool = False

    @property
    def resolved(self) -> bool:
        return self.appointment is not None or self.refused


@dataclass
class Run:
    rng: random.Random
    up: asyncio.Event = field(default_factory=asyncio.Event)
    done: asyncio.Event = field(default_factory=asyncio.Event)
    sent: list[Sent] = field(default_factory=list)

    def why(self) -> str:
        return f"(CRASH_SEED={SEED})"


def _record(sent: Sent, status: int, answer: Any, headers: Any) -> int | None:
    """Note one answer; the seconds to wait before resending, if the gateway asks for that."""
    sent.statuses.append(status)
    if status == 201:
        sent.appointment = (answer["id"], int(answer["meta"]["versionId"]))
    elif status == 409 and "Content-Location" in headers:
        # fs_xti.md: a resend of a request that booked points at that booking.
        *_, appointment_id, _history, version = headers["Content-Location"].split("/")
        sent.appointment = (appointment_id, int(version))
    elif status == 409 and "Retry-After" in headers:
        return int(headers["Retry-After"])
    elif status == 422:
        sent.refused = True  # the slot went to someone else first
    return None


async def _send(consumer: Consumer, sent: Sent) -> int | None:
    try:
        status, answer, headers = await consumer.book(sent.body, sent.request_id)
    except (aiohttp.ClientError, TimeoutError):
        sent.lost += 1  # killed mid-request, or not up yet: the answer is lost
        return None
    return _record(sent, status, answer, headers)


async def _client(consumer: Consumer, run: Run) -> None:
    """Search and book, over and over, as long as the run lasts."""
    while not run.done.is_set():
        await run.up.wait()
        service = run.rng.choice((EMBEDDED_SERVICE, REST_SERVICE))
        try:
            slots = await consumer.free_slots(service, timedelta(hours=1))
        except (aiohttp.ClientError, TimeoutError):
            continue
        if not slots:
            continue
        slot = run.rng.choice(slots[:CHOICE])
        sent = Sent(str(uuid.uuid4()), booking_body(slot), slot_identifier(slot))
        run.sent.append(sent)
        await _send(consumer, sent)
        if not sent.resolved:
            # The answer was lost: resend as soon as the gateway is back, as 111 would.
            await _resolve(consumer, sent, run)


async def _killer(rig: Rig, run: Run) -> None:
    """Kill and restart the gateway KILLS times at seeded moments."""
    for _ in range(KILLS):
        await asyncio.sleep(run.rng.uniform(0.3, 1.5))
        process = rig.gateway.process
        assert process is not None
        if run.rng.random() < 0.5:
            # Frozen first: the supplier completes what it was asked, unheard.
            process.send_signal(signal.SIGSTOP)
            await asyncio.sleep(run.rng.uniform(0.05, 0.3))
        run.up.clear()
        await kill(rig.gateway)
        await rig.start_gateway()
        run.up.set()
    await asyncio.sleep(run.rng.uniform(0.3, 1.0))
    run.done.set()


async def _resolve(consumer: Consumer, sent: Sent, run: Run) -> None:
    """Resend until the answer is a booking or a refusal, waiting as Retry-After says."""
    deadline = time.monotonic() + RESOLVE_WITHIN_S
    while not sent.resolved and time.monotonic() < deadline:
        await run.up.wait()
        wait_s = await _send(consumer, sent)
        await asyncio.sleep(wait_s if wait_s is not None else 0.1)


async def _check_gateway(consumer: Consumer, booked: list[Sent], run: Run) -> None:
    """Every answered booking reads back; the gateway holds those and no others."""
    for sent in booked:
        assert sent.appointment is not None
        appointment_id, version = sent.appointment
        status, current, _ = await consumer.read(f"Appointment/{appointment_id}")
        assert status == 200, (current, run.why())
        assert (int(current["meta"]["versionId"]), current["status"]) == (version, "booked")
        assert slot_identifier(current) == sent.slot, run.why()
    ids = [s.appointment[0] for s in booked if s.appointment]
    assert len(set(ids)) == len(ids), f"two requests share an appointment {run.why()}"
    held = await consumer.patient_appointments()
    assert sorted(a["id"] for a in held) == sorted(ids), f"unexplained appointments {run.why()}"
    slots = [slot_identifier(a) for a in held]
    assert len(set(slots)) == len(slots), f"a slot booked twice {run.why()}"


def _check_suppliers(rig: Rig, booked: list[Sent], run: Run) -> None:
    """Each supplier booking belongs to exactly one answered request, and each to one booking."""
    at_suppliers = rig.supplier_bookings()
    for sent in booked:
        mine = supplier_keys(sent.request_id) & at_suppliers.keys()
        assert len(mine) == 1, f"request {sent.request_id}: {len(mine)} bookings {run.why()}"
    keys = set().union(*(supplier_keys(s.request_id) for s in booked))
    orphans = at_suppliers.keys() - keys
    assert not orphans, f"supplier bookings the gateway does not know {run.why()}"


async def test_kill_nine_mid_booking_loses_and_doubles_nothing(
    rig: Rig, consumer: Consumer
) -> None:
    """Random SIGKILLs mid-booking: every 201 reads back, nothing doubled, all doubt resolved."""
    run = Run(random.Random(SEED))
    run.up.set()
    clients = [asyncio.create_task(_client(consumer, run)) for _ in range(CLIENTS)]
    await _killer(rig, run)
    await asyncio.gather(*clients)

    in_doubt = [s for s in run.sent if not s.resolved]
    await asyncio.gather(*(_resolve(consumer, s, run) for s in in_doubt))

    lost = [s for s in run.sent if s.lost]
    assert lost, f"no answer was lost: the kills missed every booking {run.why()}"
    assert rig.gateway_events("claim_taken_over"), f"no claim was left in doubt {run.why()}"
    unresolved = [(s.request_id, s.statuses) for s in run.sent if not s.resolved]
    assert not unresolved, f"never resolved by a resend: {unresolved} {run.why()}"
    assert not [s for s in run.sent if any(code >= 500 for code in s.statuses)], run.why()
    booked = [s for s in run.sent if s.appointment is not None]
    await _check_gateway(consumer, booked, run)
    _check_suppliers(rig, booked, run)
