"""The REST peer runs from a shell for integrators: ``python -m adapters.rest_diary.peer``."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parents[2]


async def test_peer_cli_serves_the_api_and_its_fault(tmp_path: Path, unused_tcp_port: int) -> None:
    """With --fault 5xx:book it pings, offers slots, fails bookings and exits 0 on SIGTERM."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "adapters.rest_diary.peer",
        "--port", str(unused_tcp_port), "--db", str(tmp_path / "d.sqlite3"),
        "--days", "1", "--fault", "5xx:book",
        cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        line = await asyncio.wait_for(proc.stdout.readline(), timeout=15)
        api = line.decode().rsplit(" ", 1)[-1].strip()
        assert api == f"http://127.0.0.1:{unused_tcp_port}/api/v2"
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as http:
            async with http.get(f"{api}/ping") as resp:
                assert resp.status == 200
            async with http.get(f"{api}/clinics/TEL-OOH/slots?fromLocal=2000-01-01T00:00") as resp:
                assert resp.status == 200 and (await resp.json())["items"]
            async with http.post(f"{api}/appointments", json={}) as resp:
                assert resp.status == 503
    finally:
        proc.terminate()
        await asyncio.wait_for(proc.wait(), timeout=10)
    assert proc.returncode == 0
