"""The pointer worker's retry timing: exponential, capped, jittered to 50-100 % of the delay."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest

from gateway.config import RegistryRetry, RegistrySettings
from gateway.registry.client import RegistryClient
from gateway.registry.pointer import PointerSite
from gateway.registry.worker import PointerWorker
from gateway.store.sqlite import SqliteStore
from tests.store.contract import T0, make_version

NOW = T0 + timedelta(hours=1)


@pytest.mark.parametrize(("jitter", "factor"), [(0.0, 0.5), (1.0, 1.0)])
async def test_a_failed_delivery_waits_a_jittered_exponential_delay(
    unused_tcp_port_factory: Callable[[], int], jitter: float, factor: float
) -> None:
    """With nothing listening, attempts 1, 2, 3 wait 1, 2, 4 s (capped at 3 s) times the
    jitter factor: never due before, due at once after."""
    url = f"http://127.0.0.1:{unused_tcp_port_factory()}/FHIR/R4"
    settings = RegistrySettings(
        url=url,
        custodian_ods="RX1",
        retry=RegistryRetry(first_delay_s=1, max_delay_s=3, stuck_after_attempts=10),
    )
    store = SqliteStore(":memory:", pointer_journal=True)
    await store.open()
    clock = [NOW]
    client = RegistryClient(url, "RX1", connect_timeout_s=0.5, request_timeout_s=1)
    site = PointerSite("RX1", "https://gw.example/bars/FHIR/R4")
    worker = PointerWorker(
        store, client, site, settings, clock=lambda: clock[0], jitter=lambda: jitter
    )
    try:
        await store.add_version(make_version("a", 1))
        for delay in (1.0, 2.0, 3.0):
            assert await worker.step()
            wait = timedelta(seconds=delay * factor)
            early = await store.lease_pointer_work("probe", clock[0] + wait * 0.99, 30)
            assert early is None, f"not due before {delay * factor} s"
            clock[0] = clock[0] + wait
        assert (await worker.backlog()).pending == 1, "never dropped"
    finally:
        await client.close()
        await store.close()
