"""`uec-gateway serve` says it serves only once bound, and fails to start in one line."""

from __future__ import annotations

import asyncio
import json
import signal
import socket
from pathlib import Path

import aiohttp
import pytest

from tests.integration.cli import UEC_GATEWAY, demo_copy, run


def _config(folder: Path, name: str = "demo.yaml", **edits: str) -> Path:
    """A copy of a shipped configuration with ``old=new`` text edits (keys are labels)."""
    path = demo_copy(folder) / "config" / name
    text = path.read_text()
    for old, new in (edit.split("=>") for edit in edits.values()):
        assert old in text
        text = text.replace(old, new, 1)
    path.write_text(text)
    return path


def _refused(done_err: str) -> str:
    """The single line printed on stderr by a start that failed."""
    lines = done_err.strip().splitlines()
    assert len(lines) == 1, done_err
    assert "Traceback" not in done_err and "serving" not in done_err
    return lines[0]


async def test_a_port_in_use_is_one_line_and_no_serving_line(
    tmp_path: Path, unused_tcp_port: int
) -> None:
    """With the port taken, serve exits 1 with one line naming the port, and never says serving."""
    config = _config(tmp_path)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", unused_tcp_port))
        taken.listen()
        done = await run("serve", "--config", str(config), "--port", str(unused_tcp_port))
    assert done.code == 1
    assert _refused(done.err) == (
        f"uec-gateway: cannot start: port {unused_tcp_port} on 127.0.0.1 is already in use"
    )
    assert "serving" not in done.out


@pytest.mark.parametrize(
    ("option", "label"),
    [
        ("path: ../var/demo/gateway.sqlite3", "store.path"),
        ("database: ../var/demo/embedded.sqlite3", "adapter 'demo-diary': database"),
    ],
)
async def test_an_unwritable_store_or_diary_is_one_line(
    tmp_path: Path, unused_tcp_port: int, option: str, label: str
) -> None:
    """A store or diary file that cannot be created fails the start in one line naming it."""
    key = option.split(":")[0]
    config = _config(tmp_path, edit=f"{option}=>{key}: ../blocker/g.db")
    (tmp_path / "blocker").write_text("a file, not a folder\n")
    done = await run("serve", "--config", str(config), "--port", str(unused_tcp_port))
    assert done.code == 1
    assert _refused(done.err) == (
        f"uec-gateway: cannot start: {label}: {tmp_path / 'blocker'} is a file, not a "
        f"folder, so {tmp_path / 'blocker/g.db'} cannot be created"
    )


async def test_a_missing_tls_file_is_one_line_naming_it(
    tmp_path: Path, unused_tcp_port: int
) -> None:
    """A front door whose certificate file is missing fails the start, naming that file."""
    config = _config(
        tmp_path,
        "example-hl7-front-door.yaml",
        tls="enabled: false=>enabled: true",
        cert="# cert_file=>cert_file",
        port="port: 2580=>port: 0",
    )
    done = await run("serve", "--config", str(config), "--port", str(unused_tcp_port))
    assert done.code == 1
    missing = tmp_path / "certs/gateway.pem"
    assert _refused(done.err) == f"uec-gateway: cannot start: cert_file {missing} does not exist"


async def test_a_bad_configuration_is_one_line(tmp_path: Path) -> None:
    """A configuration with problems fails the start in one line, pointing at check-config."""
    config = _config(tmp_path, dup="  port: 8080\n=>  port: 8080\n  port: 8081\n")
    done = await run("serve", "--config", str(config))
    assert done.code == 1
    line = _refused(done.err)
    assert line.startswith(f"uec-gateway: cannot start: {config}:6:3: duplicate key 'port'")


async def _serving(config: Path, port: int, stream: str) -> tuple[str, asyncio.subprocess.Process]:
    """Start serve; the first line on ``stream`` that says it serves, and the process."""
    proc = await asyncio.create_subprocess_exec(
        str(UEC_GATEWAY), "serve", "--config", str(config), "--port", str(port),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    reader = proc.stdout if stream == "stdout" else proc.stderr
    assert reader is not None
    while True:
        line = (await asyncio.wait_for(reader.readline(), timeout=30)).decode()
        assert line, "the gateway ended before saying it serves"
        if "serving" in line:
            return line, proc


async def _health_then_stop(proc: asyncio.subprocess.Process, port: int) -> None:
    """The port answers at once after the serving line; SIGTERM then stops it cleanly."""
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http,
            http.get(f"http://127.0.0.1:{port}/health") as resp,
        ):
            assert resp.status == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        await asyncio.wait_for(proc.communicate(), timeout=30)
    assert proc.returncode == 0


async def test_the_serving_line_comes_once_the_port_is_bound(
    tmp_path: Path, unused_tcp_port: int
) -> None:
    """The console serving line names the bound URL, and the port answers when it appears."""
    config = _config(tmp_path)
    line, proc = await _serving(config, unused_tcp_port, "stderr")
    assert line.strip() == (
        "uec-gateway serving http://127.0.0.1:8080/STU3/1/careconnect/appointment "
        f"on http://127.0.0.1:{unused_tcp_port}"
    )
    await _health_then_stop(proc, unused_tcp_port)


async def test_the_serving_line_is_json_in_json_log_mode(
    tmp_path: Path, unused_tcp_port: int
) -> None:
    """With logging.format json the serving line is a JSON log event with the bound URL."""
    config = _config(tmp_path, fmt="format: console=>format: json")
    line, proc = await _serving(config, unused_tcp_port, "stdout")
    event = json.loads(line)
    assert event["event"] == "gateway_serving" and event["level"] == "info"
    assert event["url"] == f"http://127.0.0.1:{unused_tcp_port}"
    await _health_then_stop(proc, unused_tcp_port)


async def test_a_bad_mapping_row_is_one_line_at_its_csv_position(
    tmp_path: Path, unused_tcp_port: int
) -> None:
    """A diary row naming an unknown organisation fails the start at services.csv:line:column."""
    config = _config(tmp_path)
    services = tmp_path / "mappings/embedded/demo/services.csv"
    text = services.read_text().replace("org-rx1", "org-nope", 1)
    services.write_text(text)
    column = text.splitlines()[1].index("org-nope") + 1
    done = await run("serve", "--config", str(config), "--port", str(unused_tcp_port))
    assert done.code == 1
    assert _refused(done.err) == (
        f"uec-gateway: cannot start: {services}:2:{column}: column organisation_id: "
        "unknown organisation 'org-nope'"
    )
