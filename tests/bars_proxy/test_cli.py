"""``uec-gateway simulate bars-proxy`` as a real child process: it says it is serving once
bound, issues a token for a key file it was given, routes, and stops on SIGTERM."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import aiohttp

from gateway.bars_proxy import API_ROOT, ProxySettings
from gateway.cli import PEERS
from tests.bars_proxy.conftest import CLIENT_ID, KID, Proxy, Recorded, public_pem
from tests.processes import run_python, wait_exit

ROOT = Path(__file__).resolve().parents[2]


def _start(argv: list[str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        argv, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )


async def _serving_line(process: subprocess.Popen[str]) -> str:
    assert process.stderr is not None
    loop = asyncio.get_running_loop()
    for _ in range(50):  # log lines may come first
        line = await asyncio.wait_for(loop.run_in_executor(None, process.stderr.readline), 15)
        if line.startswith("bars-proxy serving") or not line:
            return line
    return ""


def test_the_cli_registers_the_peer() -> None:
    """simulate bars-proxy runs gateway.bars_proxy.__main__."""
    assert PEERS["bars-proxy"] == "gateway.bars_proxy.__main__"


async def test_the_process_serves_tokens_and_routes(
    recorded: Recorded, tmp_path: Path, unused_tcp_port: int
) -> None:
    """A child proxy on its own port: token for the key file, a call routed, SIGTERM exits 0."""
    pem = tmp_path / "sender.pem"
    pem.write_text(public_pem(recorded.proxy.key))
    receiver = recorded.proxy.settings.routes["https://fhir.nhs.uk/Id/dos-service-id|2000099999"]
    argv = [
        sys.executable, "-m", "gateway.cli", "simulate", "bars-proxy",
        "--port", str(unused_tcp_port),
        "--route", f"2000099999={receiver}",
        "--client", f"{CLIENT_ID}:{KID}:{pem}",
    ]  # fmt: skip
    process = _start(argv)
    try:
        line = await _serving_line(process)
        assert line.strip() == f"bars-proxy serving http://127.0.0.1:{unused_tcp_port}"
        settings = ProxySettings(port=unused_tcp_port, routes={}, clients={})
        async with aiohttp.ClientSession() as session:
            child = Proxy(settings, session, recorded.proxy.key, recorded.proxy.clock)
            child.bars_headers = recorded.proxy.bars_headers
            resp = await child.call("GET", "/Slot?status=free")
            assert resp.status == 200, await resp.text()
            async with session.get(f"{child.url}/_control/requests") as off:
                assert off.status == 404  # no --control
        assert recorded.receiver.heard[-1].path_qs == "/rx/FHIR/R4/Slot?status=free"
        process.terminate()
        assert await wait_exit(process, 10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            await wait_exit(process, 10)


async def test_a_bad_option_is_one_line_and_exit_1(tmp_path: Path) -> None:
    """A --route without '=' or an unreadable key file: one line on stderr, exit 1."""
    for extra in (["--route", "no-url"], ["--client", f"a:b:{tmp_path / 'missing.pem'}"]):
        args = ["-m", "gateway.cli", "simulate", "bars-proxy", "--port", "1", *extra]
        done = await run_python(args, ROOT, 30)
        assert done.returncode == 1
        assert len(done.stderr.strip().splitlines()) == 1, done.stderr
        assert done.stderr.startswith("bars-proxy: ")
    assert API_ROOT == "/booking-and-referral/FHIR/R4"
