"""The embedded diary keeps its services' referrals (BaRS and ITK), read over both FHIR doors."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient

from gateway.app import create_app
from gateway.config import load as load_config
from gateway.itk.door import CLOCK as ITK_CLOCK
from tests.api.conftest import SERVICE_ID, Consumer, GatewayTestServer, write_config
from tests.api.test_referral_read import _get, _message, _send
from tests.bars.conftest import Doors, bars_section
from tests.bars.conftest import Sender as BarsSender
from tests.itk import messages
from tests.itk.conftest import Clock, itk_section
from tests.itk.conftest import Sender as ItkSender


@pytest.fixture
async def three(
    tmp_path: Path, unused_tcp_port_factory: Callable[[], int]
) -> AsyncIterator[tuple[Doors, ItkSender]]:
    """One gateway on 127.0.0.1 over the embedded demo diary: STU3, BaRS and ITK doors."""
    port = unused_tcp_port_factory()
    path = write_config(tmp_path, port)
    with path.open("a", encoding="utf-8") as handle:
        handle.write(bars_section(port, SERVICE_ID) + itk_section())
    settings = load_config(path)
    app = create_app(settings, path)
    clock = Clock()
    app[ITK_CLOCK] = clock
    client = TestClient(GatewayTestServer(app, host="127.0.0.1", port=port))
    await client.start_server()
    doors = Doors(BarsSender(client, settings), Consumer(client, settings))
    yield doors, ItkSender(client, settings, app, clock)
    await client.close()


def _kept(diary: Path, referral_id: str) -> list[tuple[int, str, str | None]]:
    """The diary's own rows for one referral: version, service, document id."""
    with sqlite3.connect(diary) as conn:
        rows = conn.execute(
            "SELECT version, service_id, document_id FROM referrals WHERE referral_id = ?",
            (referral_id,),
        ).fetchall()
    return [(int(v), str(s), d) for v, s, d in rows]


async def _both_doors_read(doors: Doors, referral_id: str) -> None:
    stu3 = await _get(doors, f"ReferralRequest/{referral_id}")
    assert stu3.status == 200, await stu3.text()
    bars = await doors.bars.get(f"/ServiceRequest/{referral_id}")
    assert bars.status == 200, await bars.text()
    assert (await bars.json(content_type=None))["id"] == referral_id


async def test_a_bars_referral_is_kept_in_the_diary_and_read_over_both_doors(
    three: tuple[Doors, ItkSender], tmp_path: Path
) -> None:
    """A servicerequest-request for the diary's service is a row in the diary's own database."""
    doors, _ = three
    stored = await _send(doors, _message())
    kept = _kept(tmp_path / "embedded.sqlite3", stored["id"])
    assert [(version, service) for version, service, _ in kept] == [(1, SERVICE_ID)]
    await _both_doors_read(doors, stored["id"])


async def test_an_itk_report_is_kept_in_the_diary_and_read_over_both_doors(
    three: tuple[Doors, ItkSender], tmp_path: Path
) -> None:
    """An ITK 111 report for the diary's service is kept with its CDA id in the diary's database."""
    doors, itk = three
    body = messages.sample()
    itk.clock.at = messages.created(body)
    assert (await itk.send(body)).status == 200
    stored = await itk.store.find_referral_by_document(messages.document_id(body))
    assert stored is not None
    kept = _kept(tmp_path / "embedded.sqlite3", stored.referral_id)
    assert kept == [(1, SERVICE_ID, messages.document_id(body))]
    await _both_doors_read(doors, stored.referral_id)
