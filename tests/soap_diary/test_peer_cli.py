"""The SOAP peer runs from a shell for integrators: ``python -m adapters.soap_diary.peer``."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import aiohttp

from adapters.soap_diary._faults import action
from adapters.soap_toolkit.envelope import SoapVersion

ROOT = Path(__file__).resolve().parents[2]
PING = (
    '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" '
    'xmlns:d="http://schemas.fernbrook-diary.example/booking/2019">'
    "<soap:Body><d:Ping/></soap:Body></soap:Envelope>"
)


async def test_peer_cli_answers_soap_and_its_fault(tmp_path: Path, unused_tcp_port: int) -> None:
    """With a --fault option the peer answers Ping in SOAP 1.1 and exits 0 on SIGTERM."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "adapters.soap_diary.peer",
        "--port", str(unused_tcp_port), "--db", str(tmp_path / "d.sqlite3"),
        "--days", "1", "--fault", "fault:book",
        cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        line = await asyncio.wait_for(proc.stdout.readline(), timeout=15)
        endpoint = line.decode().rsplit(" ", 1)[-1].strip()
        assert endpoint == f"http://127.0.0.1:{unused_tcp_port}/DiaryService.svc"
        headers = SoapVersion.V11.headers(action("Ping"))
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as http,
            http.post(endpoint, data=PING.encode(), headers=headers) as resp,
        ):
            assert resp.status == 200
            assert "PingResponse" in await resp.text()
    finally:
        proc.terminate()
        await asyncio.wait_for(proc.wait(), timeout=10)
    assert proc.returncode == 0
