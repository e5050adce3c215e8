"""Shared pieces of the HL7 v2 tests: the demo tables, a PAS peer and an adapter over it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from adapters.hl7v2 import Hl7v2Adapter, create
from adapters.hl7v2.peer.server import PasPeer
from tests.samples import SHARED_SAMPLES

ROOT = Path(__file__).resolve().parents[2]
DEMO_MAPPINGS = ROOT / "mappings" / "hl7v2" / "demo"
SAMPLES = SHARED_SAMPLES / "hl7v2-siu"
UTC_SERVICE = "918999197777"
PHONE_SERVICE = "918999196666"


def adapter_options(peer: PasPeer, **extra: Any) -> dict[str, Any]:
    """Options for an adapter over ``peer``, quick to give up so fault tests stay fast."""
    options: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": peer.port,
        "mappings": str(DEMO_MAPPINGS),
        "database": "journal.sqlite3",
        "ack_timeout_s": 1.0,
        "time_budget_s": 3.0,
        "reconcile_interval_s": 3600,
        "reconcile_after_s": 0,
        "listen": {"host": "127.0.0.1", "port": 0},
    }
    options.update(extra)
    return options


@asynccontextmanager
async def adapter_over(peer: PasPeer, folder: Path, **extra: Any) -> AsyncIterator[Hl7v2Adapter]:
    """An adapter talking to ``peer``, whose SIU listener the peer is told about."""
    adapter = await create("pas", adapter_options(peer, **extra), folder)
    assert isinstance(adapter, Hl7v2Adapter)
    if adapter.listen_address is not None:
        peer.notify_to(adapter.listen_address)
    try:
        yield adapter
    finally:
        await adapter.close()
