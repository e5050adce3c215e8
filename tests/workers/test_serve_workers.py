"""``uec-gateway serve --workers 2``: real processes on one port, one supervisor over them.

Each test starts ``python -m gateway serve --workers 2`` on free ports over a store and
an embedded diary of its own (``rig.py``) and talks to it over real sockets, each
request on a new connection so the kernel spreads them over the workers.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest

from benchmarks._children import free_port
from gateway.examples import booking_body
from tests.embedded.pg import raw
from tests.hl7_front_door.legacy import Legacy, ack_of
from tests.integration.cli import run
from tests.replicas.processes import book, free_slots
from tests.workers.rig import (
    ADMIN_TOKEN,
    Served,
    alive,
    health,
    serve,
    worker_pids,
    write_config,
)


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[Served]:
    """Two workers serving, once the supervisor has said so; stopped afterwards."""
    running = await serve(tmp_path)
    try:
        await running.wait_for("gateway_serving")
        yield running
    finally:
        await running.close()


def _fresh() -> aiohttp.ClientSession:
    """A client that opens a new connection for every request."""
    connector = aiohttp.TCPConnector(force_close=True, limit=0)
    return aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=30))


async def test_the_serving_line_comes_once_both_workers_serve(served: Served) -> None:
    """One gateway_serving event, naming 2 workers, and the port answers at once."""
    (event,) = served.named("gateway_serving")
    assert event["workers"] == 2 and event["url"] == served.url
    status, body = await health(served.url)
    assert status == 200 and body["status"] == "pass"


async def test_new_connections_are_answered_by_both_workers(served: Served) -> None:
    """/health on new connections names worker 1 and worker 2 (two pids, one mapping)."""
    pids = await worker_pids(served.url, 2)
    assert sorted(pids) == [1, 2] and len(set(pids.values())) == 2
    assert served.process.pid not in pids.values(), "the supervisor serves nothing itself"
    versions = {(await health(served.url))[1]["mapping_version"] for _ in range(6)}
    assert len(versions) == 1


async def test_the_hl7_front_door_is_shared_by_the_workers(served: Served) -> None:
    """Both workers bound the MLLP port: searches on new connections are answered AA."""
    for _ in range(4):
        legacy = Legacy("127.0.0.1", served.mllp)
        try:
            answer = await legacy.search(start_from=datetime.now(UTC) + timedelta(hours=1))
        finally:
            await legacy.close()
        assert ack_of(answer).code == "AA"


async def test_an_admin_reload_at_one_worker_reloads_both(served: Served, tmp_path: Path) -> None:
    """POST /admin/reload reaches one worker; the supervisor has the other reload too."""
    before = (await health(served.url))[1]["mapping_version"]
    services = tmp_path / "data/services.csv"
    services.write_text(services.read_text() + "\n")
    auth = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    async with _fresh() as http, http.post(f"{served.url}/admin/reload", headers=auth) as resp:
        assert resp.status == 200, await resp.text()
        after = (await resp.json())["mapping_version"]
    assert after != before
    await served.wait_for("mapping_reloaded", count=2, timeout_s=30)
    versions = {(await health(served.url))[1]["mapping_version"] for _ in range(12)}
    assert versions == {after}


async def test_40_bookings_of_one_slot_over_many_connections_make_one(
    served: Served, tmp_path: Path
) -> None:
    """40 concurrent bookings of one slot, each on its own connection: exactly one 201,
    the rest 409 or 422 as one process answers, and one booking in the diary."""
    async with _fresh() as http:
        (slot, *_) = await free_slots(http, served.root)
        body = booking_body(slot)
        answers = await asyncio.gather(
            *(book(http, served.root, body, str(uuid.uuid4())) for _ in range(40))
        )
    statuses = sorted(status for status, _ in answers)
    assert statuses.count(201) == 1, statuses
    assert set(statuses) - {201} <= {409, 422}, statuses
    booked = await raw(
        tmp_path / "embedded.sqlite3", "SELECT slot_id FROM bookings WHERE status = 'booked'"
    )
    assert booked == [(slot["id"],)]


async def test_sigterm_stops_every_worker_and_exits_0(served: Served) -> None:
    """SIGTERM to the supervisor: every worker ends, no process is left, exit status 0."""
    pids = await worker_pids(served.url, 2)
    served.process.send_signal(signal.SIGTERM)
    assert await served.finished() == 0
    assert not [pid for pid in pids.values() if alive(pid)]
    assert len(served.named("gateway_serving")) == 1
    assert not [line for line in served.errors if "Traceback" in line], served.errors


async def test_workers_stop_by_themselves_when_the_supervisor_is_killed(served: Served) -> None:
    """SIGKILL to the supervisor (no signal can be passed on): both workers still stop."""
    pids = await worker_pids(served.url, 2)
    served.process.kill()
    await served.finished()
    for _ in range(600):
        if not [pid for pid in pids.values() if alive(pid)]:
            break
        await asyncio.sleep(0.05)
    assert not [pid for pid in pids.values() if alive(pid)], "a worker outlived its supervisor"


async def test_a_worker_killed_with_sigkill_is_restarted_and_the_port_keeps_answering(
    served: Served,
) -> None:
    """SIGKILL worker 2: the port answers throughout, and a new worker 2 serves soon."""
    before = await worker_pids(served.url, 2)
    os.kill(before[2], signal.SIGKILL)
    restarted = asyncio.create_task(served.wait_for("gateway_worker_restarted", 60))
    answered = 0
    while not restarted.done():
        status, _ = await health(served.url)
        assert status == 200
        answered += 1
        await asyncio.sleep(0.05)
    await restarted
    assert answered > 0
    after = await worker_pids(served.url, 2)
    assert after[1] == before[1] and after[2] != before[2]
    (died,) = served.named("gateway_worker_died")
    assert died["worker"] == 2 and died["exit"] == "killed by SIGKILL"
    assert len(served.named("gateway_serving")) == 1, "the serving line is said once"


async def test_a_worker_that_keeps_dying_stops_the_supervisor_with_one_line(
    served: Served, tmp_path: Path
) -> None:
    """Worker 2 killed, its restarts failing (a broken mapping row): after 5 deaths within
    a minute every worker stops and the supervisor exits 1 with one line."""
    pids = await worker_pids(served.url, 2)
    services = tmp_path / "data/services.csv"
    services.write_text(services.read_text().replace("org-rx1", "org-nope", 1))
    os.kill(pids[2], signal.SIGKILL)
    assert await served.finished(timeout_s=120) == 1
    assert served.errors == [
        "uec-gateway: stopped: worker 2 died 5 times within 60 s (last: exited with code 1)"
    ]
    assert len(served.named("gateway_worker_died")) == 5
    assert not [pid for pid in pids.values() if alive(pid)]


async def test_a_port_in_use_is_exit_1_and_one_line(tmp_path: Path) -> None:
    """With the port taken (by a plain socket, or one with SO_REUSEPORT as a worker's is),
    serve --workers 2 exits 1 with one line naming the port and never says serving."""
    port = free_port()
    for reuse_port in (False, True):
        with socket.socket() as taken:
            if reuse_port:
                taken.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            taken.bind(("127.0.0.1", port))
            taken.listen()
            running = await serve(tmp_path, port=port)
            code = await running.finished()
        assert code == 1
        assert running.errors == [
            f"uec-gateway: cannot start: port {port} on 127.0.0.1 is already in use"
        ]
        assert not running.named("gateway_serving")


async def test_a_worker_that_cannot_start_stops_the_others_with_its_reason(
    tmp_path: Path,
) -> None:
    """A broken mapping row fails every worker's start: exit 1 with that one line."""
    write_config(tmp_path, 0, 0)  # makes tmp_path/data, then broken before the start
    services = tmp_path / "data/services.csv"
    text = services.read_text().replace("org-rx1", "org-nope", 1)
    services.write_text(text)
    running = await serve(tmp_path)
    assert await running.finished() == 1
    column = text.splitlines()[1].index("org-nope") + 1
    assert running.errors == [
        f"uec-gateway: cannot start: {services}:2:{column}: column organisation_id: "
        "unknown organisation 'org-nope'"
    ]
    assert not running.named("gateway_serving")


async def test_workers_with_the_in_memory_store_are_refused_in_one_line(tmp_path: Path) -> None:
    """store.path ':memory:' cannot be shared: serve --workers 2 exits 1 saying so."""
    config = tmp_path / "memory.yaml"
    config.write_text("server:\n  workers: 2\nstore:\n  path: ':memory:'\nadapters: []\n")
    done = await run("serve", "--config", str(config))
    assert done.code == 1
    assert done.lines == [
        "uec-gateway: cannot start: 2 workers cannot share store.path ':memory:' "
        "(one process's memory): use a store file or PostgreSQL"
    ]
