"""A BaRS resend that overtakes its first send is a ``duplicate``, never "slot taken".

Over a real gateway on 127.0.0.1 and the REST diary peer, whose next booking is
held for two seconds: the resend, sent while the first is with the supplier, is
409 REC_CONFLICT issue ``duplicate`` with Retry-After, and the first still books.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from adapters.rest_diary.peer import FaultSpec, Mode, PeerAuth, RunningPeer
from adapters.rest_diary.peer import start_peer as start_rest_peer
from tests.bars._e2e import ADAPTER, _gateway
from tests.bars.conftest import appointment_body
from tests.selftest import backends as b

Json = dict[str, Any]


async def _booked_by_supplier(peer: RunningPeer) -> None:
    deadline = time.monotonic() + 15
    while peer.state.stats.get("book", 0) < 1:
        assert time.monotonic() < deadline, "the booking never reached the supplier"
        await asyncio.sleep(0.05)


async def test_a_resend_while_the_first_is_with_the_supplier_is_a_duplicate(
    tmp_path: Path, unused_tcp_port_factory: Callable[[], int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """409 REC_CONFLICT issue duplicate, Retry-After and "still being processed"; one booking."""
    monkeypatch.setenv(b.REST_KEY_ENV, b.REST_KEY)
    auth = PeerAuth(kind="api_key", api_key=b.REST_KEY)
    peer = await start_rest_peer(str(tmp_path / "rest.sqlite3"), days=b.DAYS, auth=auth)
    adapter = f"""  - name: {ADAPTER}
    kind: rest-diary
    options:
      base_url: {peer.api}
      mappings: {b.ROOT}/mappings/rest_diary/demo
      auth: {{kind: api_key, key_env: {b.REST_KEY_ENV}}}
"""
    try:
        async with _gateway(tmp_path, unused_tcp_port_factory, adapter, "918999197001") as (
            bars,
            _,
        ):
            slot = (await bars.free_slots())[0]
            hold = FaultSpec(mode=Mode.SLOW, operations=frozenset({"book"}), times=1, delay_s=2)
            peer.fault(hold)
            request_id = str(uuid.uuid4())
            body = appointment_body(slot)
            first = asyncio.create_task(
                bars.send("POST", "/Appointment", body, **{"X-Request-Id": request_id})
            )
            await _booked_by_supplier(peer)
            resend = await bars.send("POST", "/Appointment", body, **{"X-Request-Id": request_id})
            outcome: Json = await resend.json(content_type=None)
            issue = outcome["issue"][0]
            assert resend.status == 409, outcome
            assert issue["code"] == "duplicate", outcome
            assert issue["details"]["coding"][0]["code"] == "REC_CONFLICT"
            assert "still being processed" in issue["diagnostics"]
            assert int(resend.headers["Retry-After"]) >= 1
            assert f"after {resend.headers['Retry-After']} s" in issue["diagnostics"]
            made = await first
            assert made.status == 201, await made.text()
            assert await peer.diary.count_appointments() == 1
    finally:
        await peer.stop()
