"""The reference ITK peers from the command line: the receiver serves, the sender sends a sample."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
import pytest

from adapters.itk.peer import FaultSpec, Mode, RunningReceiver
from adapters.itk_toolkit.message import read_message
from tests.integration.cli import run
from tests.itk import samples
from tests.itk.sender_rig import peer_fixture  # noqa: F401  (fixture)
from tests.samples import absent

SAMPLE = samples.CDA_DIR / "cleric-itk-ooh-referral-dx09-itk-request.xml"
LIMITS = {"max_bytes": 4 << 20, "max_depth": 200}


def _bytes(path: Path) -> bytes:
    return path.read_bytes()


def _tracking(path: Path) -> str:
    return read_message(_bytes(path), **LIMITS).distribution.tracking_id


@pytest.fixture
def sample() -> Path:
    if not SAMPLE.is_file():
        pytest.skip(absent(SAMPLE))
    return SAMPLE


async def test_itk_sender_sends_a_sample_and_prints_the_ack(
    peer: RunningReceiver, sample: Path
) -> None:
    """`simulate itk-sender` posts a 111 sample as it is; the peer stores it; exit 0."""
    done = await run("simulate", "itk-sender", "--endpoint", peer.endpoint, str(sample))
    assert done.code == 0, done.err
    tracking = _tracking(sample)
    assert f"infrastructure ack OK, tracking id {tracking}" in done.out
    assert [r.tracking_id for r in peer.received] == [tracking]


async def test_itk_sender_reports_a_fault_and_exits_1(peer: RunningReceiver, sample: Path) -> None:
    """A refused report prints its ToolkitErrorInfo code and exits 1."""
    peer.fault(FaultSpec(mode=Mode.FAULT, code="2100"))
    done = await run("simulate", "itk-sender", "--endpoint", peer.endpoint, str(sample))
    assert done.code == 1
    assert "refused, ToolkitErrorInfo 2100" in done.out


async def test_itk_sender_wraps_a_bare_cda_in_a_new_envelope(
    peer: RunningReceiver, sample: Path, tmp_path: Path
) -> None:
    """A bare ClinicalDocument is sent in a new envelope to --address under --tracking-id."""
    from lxml import etree

    element = read_message(_bytes(sample), **LIMITS).distribution.payloads[0].element
    assert element is not None
    cda = tmp_path / "report.xml"
    cda.write_bytes(etree.tostring(element))
    done = await run(
        "simulate", "itk-sender", "--endpoint", peer.endpoint, str(cda),
        "--address", "urn:nhs-uk:addressing:ods:RYE01", "--address", "136753",
        "--tracking-id", "0A2B4C6D-0000-4000-8000-000000000001",
    )  # fmt: skip
    assert done.code == 0, done.err
    [stored] = peer.received
    assert stored.tracking_id == "0A2B4C6D-0000-4000-8000-000000000001"
    assert stored.addresses == ("urn:nhs-uk:addressing:ods:RYE01", "136753")


async def test_itk_sender_without_a_receiver_exits_2(sample: Path, unused_tcp_port: int) -> None:
    """Nothing listening: a one-line reason and exit 2."""
    url = f"http://127.0.0.1:{unused_tcp_port}/itk"
    done = await run("simulate", "itk-sender", "--endpoint", url, str(sample))
    assert done.code == 2 and "no answer" in done.err


@pytest.mark.parametrize("path", samples.requests(), ids=lambda p: p.stem)
async def test_the_receiver_acknowledges_every_sample(peer: RunningReceiver, path: Path) -> None:
    """Each 111 supplier's sample request is stored and answered OK with its tracking id."""
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            peer.endpoint,
            data=_bytes(path),
            headers={"Content-Type": "text/xml; charset=utf-8"},
        ) as resp,
    ):
        body = await resp.text()
    assert resp.status == 200, body
    assert f"OK:{_tracking(path)}" in body
    assert len(peer.received) == 1


async def test_itk_receiver_runs_from_the_command_line(
    sample: Path, unused_tcp_port: int, tmp_path: Path
) -> None:
    """`simulate itk-receiver` listens, stores a report under --store and exits 0 on SIGTERM."""
    from tests.integration.cli import UEC_GATEWAY

    store = tmp_path / "received"
    proc = await asyncio.create_subprocess_exec(
        str(UEC_GATEWAY), "simulate", "itk-receiver", "--port", str(unused_tcp_port),
        "--store", str(store),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        line = await asyncio.wait_for(proc.stdout.readline(), timeout=20)
        endpoint = line.decode().rsplit(" ", 1)[-1].strip()
        assert endpoint == f"http://127.0.0.1:{unused_tcp_port}/itk"
        done = await run("simulate", "itk-sender", "--endpoint", endpoint, str(sample))
        assert done.code == 0, done.err
    finally:
        proc.terminate()
        await asyncio.wait_for(proc.wait(), timeout=10)
    assert proc.returncode == 0
    folder = store / _tracking(sample)
    assert _bytes(folder / "envelope.xml") == _bytes(sample)
    assert (folder / "payload-1.xml").is_file()


async def test_the_receiver_shows_what_it_holds_and_takes_faults_over_http(
    peer: RunningReceiver, sample: Path
) -> None:
    """`PUT /_peer/fault` refuses the next report; `GET /_peer/received` lists the stored one
    and its payload is served as XML."""
    base = peer.endpoint.removesuffix("/itk")
    headers = {"Content-Type": "text/xml; charset=utf-8"}
    async with aiohttp.ClientSession() as http:
        async with http.put(f"{base}/_peer/fault", json={"mode": "fault", "times": 1}) as resp:
            assert resp.status == 200
        async with http.post(peer.endpoint, data=_bytes(sample), headers=headers) as resp:
            assert resp.status == 500 and "ToolkitErrorInfo" in await resp.text()
        async with http.post(peer.endpoint, data=_bytes(sample), headers=headers) as resp:
            assert resp.status == 200
        async with http.get(f"{base}/_peer/received") as resp:
            [summary] = await resp.json()
        assert summary["tracking_id"] == _tracking(sample) and summary["seen"] == 1
        url = f"{base}/_peer/received/{summary['tracking_id']}/payloads/1"
        async with http.get(url) as resp:
            assert resp.status == 200 and b"ClinicalDocument" in await resp.read()
        async with http.put(f"{base}/_peer/fault", json={"mode": "sideways"}) as resp:
            assert resp.status == 400


async def test_itk_sender_sends_a_referral_rendered_as_a_report(
    peer: RunningReceiver, tmp_path: Path
) -> None:
    """A referral in canonical JSON is rendered as an NHS 111 report and sent; exit 0."""
    from tests.contract.builders import NHS_NUMBER
    from tests.itk.sender_rig import referral

    path = tmp_path / "referral.json"
    path.write_text(referral().model_dump_json(), encoding="utf-8")
    done = await run(
        "simulate", "itk-sender", "--endpoint", peer.endpoint, str(path),
        "--address", "urn:nhs-uk:addressing:ods:RYE01",
    )  # fmt: skip
    assert done.code == 0, done.err
    [stored] = peer.received
    assert NHS_NUMBER.encode() in stored.payloads[0]
