"""Fixtures for the ITK sender adapter: the reference ITK receiver on 127.0.0.1, adapters for it."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

from adapters.domain import Referral
from adapters.embedded import EmbeddedAdapter
from adapters.embedded import create as create_embedded
from adapters.itk import ItkSenderAdapter, create
from adapters.itk.peer import RunningReceiver, start_receiver
from tests.referrals._rig import ReferringDiary, new_referral

ROOT = Path(__file__).resolve().parents[2]
MAPPINGS = ROOT / "mappings" / "itk_sender" / "demo"
#: The demo out-of-hours service (two addresses in the provider table: an ODS URI and a DoS id).
OOH_SERVICE = "918999198888"
SENDER = "urn:nhs-uk:addressing:ods:A91547"

AdapterFactory = Callable[..., Awaitable[ItkSenderAdapter]]


def itk_options(peer: RunningReceiver, **overrides: Any) -> dict[str, Any]:
    """Adapter options for ``peer``: short timeouts and pauses, business acks awaited."""
    return {
        "endpoint": peer.endpoint,
        "mappings": str(MAPPINGS),
        "sender_address": SENDER,
        "audit_identity": "urn:nhs-uk:identity:ods:A91547",
        "username": "CN=gateway.example.nhs.uk",
        "timeout_s": 2.0,
        "retry": {"attempts": 4, "first_delay_s": 0.05, "max_delay_s": 0.2},
        "business_ack": {"mode": "await", "wait_s": 3.0},
        **overrides,
    }


@pytest.fixture(name="peer")
async def peer_fixture() -> AsyncIterator[RunningReceiver]:
    """The reference ITK receiver on a free 127.0.0.1 port."""
    running = await start_receiver()
    yield running
    await running.stop()


@pytest.fixture(name="make_adapter")
async def make_adapter_fixture(tmp_path: Path) -> AsyncIterator[AdapterFactory]:
    """Build ITK adapters from options; each is closed after the test."""
    made: list[ItkSenderAdapter] = []

    async def factory(options: dict[str, Any], name: str = "itk-test") -> ItkSenderAdapter:
        adapter = await create(name, options, tmp_path)
        assert isinstance(adapter, ItkSenderAdapter)
        made.append(adapter)
        return adapter

    yield factory
    for adapter in made:
        await adapter.close()


def referral(service_id: str = OOH_SERVICE, *, version: int = 1) -> Referral:
    """A stored referral version (its own id) for an ITK-served service."""
    return new_referral(service_id=service_id).model_copy(
        update={"id": str(uuid.uuid4()), "version": version}
    )


async def eventually(check: Callable[[], bool], within_s: float = 3.0) -> None:
    """Wait on the event loop until ``check()`` holds (a posted ack arrives after the answer)."""
    deadline = asyncio.get_running_loop().time() + within_s
    while not check():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


#: The ReferringDiary (an embedded diary with a referral inbox) the last factory call made.
INBOXES: list[ReferringDiary] = []


async def referring_diary(name: str, options: Mapping[str, Any], base_dir: Path) -> ReferringDiary:
    """A registry factory: a booking adapter that keeps referrals too (tests only)."""
    diary = await create_embedded(name, options, base_dir)
    assert isinstance(diary, EmbeddedAdapter)
    inbox = ReferringDiary(diary, name)
    INBOXES.append(inbox)
    return inbox
