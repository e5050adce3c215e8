"""The message journal over real sockets: SIU from the PAS peer that failed on a missing
mapping row, the row added and reloaded, the failures replayed; and a shadow replay."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from adapters.domain import utcnow
from adapters.hl7v2.peer import DeskPatient, PasPeer
from gateway.examples import booking_body
from tests.hl7v2.gateway import PasConsumer
from tests.hl7v2.helpers import demo_tables
from tests.hl7v2.journal_rig import (
    KEY,
    KEY_ENV,
    TOKEN,
    TOKEN_ENV,
    admin_post,
    desk_bookings,
    journaled,
    journaled_gateway,
    store_of,
)
from tests.integration.cli import run

NHS_NUMBER = "9434765919"
PATIENT = DeskPatient(
    "Okonkwo", "Ada", "F", date(1980, 1, 2), nhs_number=NHS_NUMBER, mrn="M77", postcode="FB1 2CD"
)


def _without_mrn(text: str) -> str:
    """identifier_systems.csv less its RVR01 MR row: the desk's PID-3 MRN maps to nothing."""
    return "\n".join(line for line in text.splitlines() if not line.startswith("RVR01"))


@pytest.fixture(autouse=True)
def _secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    monkeypatch.setenv(KEY_ENV, KEY)


async def _appointments(consumer: PasConsumer) -> list[tuple[str, int]]:
    """(supplier ref, version) of every current appointment of the desk's patient."""
    since = utcnow() - timedelta(days=1)
    found = await store_of(consumer).find_by_nhs_number(NHS_NUMBER, since)
    return sorted((v.booking.supplier_ref, v.version) for v in found)


async def _two_failures(peer: PasPeer, consumer: PasConsumer) -> tuple[list[str], list[str]]:
    """Two desk bookings whose SIU^S12 the gateway answers AE; (fillers, journal ids)."""
    began = utcnow() - timedelta(seconds=1)
    fillers = await desk_bookings(peer, consumer, PATIENT, 2)
    assert [a.code for a in peer.desk.acks[-2:]] == ["AE", "AE"]
    rows = await journaled(consumer, began, utcnow() + timedelta(seconds=1))
    assert [(r.outcome, r.reason_code, r.channel) for r in rows] == [
        ("failed", "AE:103", "hl7v2.siu")
    ] * 2
    return fillers, [r.id for r in rows]


async def test_failed_siu_replayed_after_the_fix_apply_once_and_replay_again_changes_nothing(
    peer: PasPeer, tmp_path: Path, unused_tcp_port_factory: Callable[[], int]
) -> None:
    """SIU failed for a missing row are applied once each by `uec-gateway replay` after the fix."""
    tables = demo_tables(tmp_path / "tables", identifier_systems=_without_mrn)
    async with journaled_gateway(peer, tmp_path, unused_tcp_port_factory, tables) as (
        consumer,
        config,
    ):
        fillers, ids = await _two_failures(peer, consumer)
        assert await _appointments(consumer) == []
        for row in await journaled(consumer, utcnow() - timedelta(hours=1), utcnow()):
            assert row.sealed and row.payload is not None
            assert NHS_NUMBER.encode() not in row.payload and b"Okonkwo" not in row.payload
            assert "Okonkwo" not in row.reason and NHS_NUMBER not in row.reason
        demo_tables(tables)  # the integrator adds the missing row
        assert (await admin_post(consumer, "/admin/reload"))["reloaded"] is True

        first = await run("replay", *ids, "--config", str(config), "--json")
        assert first.code == 0, first.err
        results = json.loads(first.out)["results"]
        assert [(r["result"], r["before"], r["after"]) for r in results] == [
            ("replayed", "failed", "applied")
        ] * 2
        assert await _appointments(consumer) == sorted((f, 1) for f in fillers)

        again = await run("replay", *ids, "--config", str(config))
        assert again.code == 0, again.err
        assert [line.split(": ")[1] for line in again.out.splitlines()] == [
            "no-op applied -> applied already applied"
        ] * 2
        assert await _appointments(consumer) == sorted((f, 1) for f in fillers)
        rows = await journaled(consumer, utcnow() - timedelta(hours=1), utcnow())
        assert [(r.outcome, r.replays) for r in rows] == [("applied", 1)] * 2


async def test_shadow_replay_prints_what_the_fix_would_change_and_changes_nothing(
    peer: PasPeer, tmp_path: Path, unused_tcp_port_factory: Callable[[], int]
) -> None:
    """A shadow replay through the fixed tables shows failed -> applied; the store is unchanged."""
    tables = demo_tables(tmp_path / "tables", identifier_systems=_without_mrn)
    async with journaled_gateway(peer, tmp_path, unused_tcp_port_factory, tables) as (
        consumer,
        config,
    ):
        began = utcnow() - timedelta(seconds=1)
        _, ids = await _two_failures(peer, consumer)
        fixed = demo_tables(tmp_path / "candidate-tables")
        candidate = tmp_path / "candidate.yaml"
        candidate.write_text(
            config.read_text(encoding="utf-8").replace(str(tables), str(fixed)), encoding="utf-8"
        )
        window = (began, utcnow() + timedelta(seconds=1))
        before = (await journaled(consumer, *window), await _appointments(consumer))
        acks = len(peer.desk.acks)

        args = ["--since", window[0].isoformat(), "--until", window[1].isoformat()]
        shadow = ["replay", "--shadow", *args, "--config", str(candidate)]
        done = await run(*shadow, "--current", str(config), "--json")
        assert done.code == 0, done.err
        report = json.loads(done.out)
        assert report["summary"] == {"messages": 2, "changed": 2}
        for row, found in zip(ids, report["messages"], strict=True):
            assert (found["id"], found["before"], found["after"]) == (row, "failed", "applied")
            assert found["fields"]["status"] == ["", "booked"]
            assert NHS_NUMBER not in json.dumps(found) and "Okonkwo" not in json.dumps(found)
        text = await run(*shadow, "--current", str(config))
        assert text.out.splitlines()[-1] == "2 messages, 2 would change"

        assert (await journaled(consumer, *window), await _appointments(consumer)) == before
        assert len(peer.desk.acks) == acks


async def test_without_a_key_only_metadata_is_kept_and_replay_says_why_it_cannot(
    peer: PasPeer, tmp_path: Path, unused_tcp_port_factory: Callable[[], int]
) -> None:
    """With no key and no plain-text opt-in a failed SIU keeps no payload and is not replayable."""
    tables = demo_tables(tmp_path / "tables", identifier_systems=_without_mrn)
    async with journaled_gateway(
        peer, tmp_path, unused_tcp_port_factory, tables, journal="  retention_days: 7\n"
    ) as (consumer, _):
        _, ids = await _two_failures(peer, consumer)
        rows = await journaled(consumer, utcnow() - timedelta(hours=1), utcnow())
        assert all(r.payload is None and not r.sealed for r in rows)
        demo_tables(tables)
        assert (await admin_post(consumer, "/admin/reload"))["reloaded"] is True
        results = (await admin_post(consumer, "/admin/replay", {"ids": ids}))["results"]
        assert {r["result"] for r in results} == {"error"}
        assert all("cannot be replayed" in r["reason"] for r in results)
        assert await _appointments(consumer) == []


async def test_replay_needs_the_admin_token_and_a_list_of_ids(
    peer: PasPeer, tmp_path: Path, unused_tcp_port_factory: Callable[[], int]
) -> None:
    """POST /admin/replay refuses a missing token (403) and a malformed body (400), plainly."""
    async with journaled_gateway(
        peer, tmp_path, unused_tcp_port_factory, demo_tables(tmp_path / "tables")
    ) as (consumer, _):
        client = consumer.client
        assert (await client.post("/admin/replay", json={"ids": ["x"]})).status == 403
        auth = {"Authorization": f"Bearer {TOKEN}"}
        for body in (b"not json", b'{"ids": []}', b'{"ids": [1]}', b"[]"):
            resp = await client.post("/admin/replay", data=body, headers=auth)
            assert resp.status == 400
            assert "ids" in (await resp.json())["error"]
        found = await admin_post(consumer, "/admin/replay", {"ids": ["no-such-id"]})
        assert found["results"][0]["result"] == "error"


async def test_what_is_sent_to_the_pas_is_journaled_out_sealed(
    peer: PasPeer, tmp_path: Path, unused_tcp_port_factory: Callable[[], int]
) -> None:
    """A booking's SRM^S01 to the PAS is journaled 'out': its MSH-10, the ACK code, sealed."""
    tables = demo_tables(tmp_path / "tables")
    async with journaled_gateway(peer, tmp_path, unused_tcp_port_factory, tables) as (
        consumer,
        _config,
    ):
        began = utcnow() - timedelta(seconds=1)
        (slot,) = await consumer.free_slots(1)
        assert (await consumer.book(booking_body(slot))).status == 201
        rows: list[Any] = []
        for _ in range(100):  # written beside the call, just after it
            rows = await store_of(consumer).messages_between(
                began, utcnow() + timedelta(seconds=1), "out"
            )
            if any(r.reason.startswith("SRM") for r in rows):
                break
            await asyncio.sleep(0.02)
        (srm,) = [r for r in rows if r.reason.startswith("SRM")]
        assert (srm.channel, srm.route, srm.outcome, srm.reason_code) == (
            "supplier.mllp",
            "pas",
            "sent",
            "AA",
        )
        assert srm.sealed and srm.payload is not None and srm.control_id
        assert srm.sender == f"127.0.0.1:{peer.port}"
