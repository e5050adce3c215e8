"""/health/ready while the PostgreSQL store is cut away (a TCP forwarder the test controls).

The store is PostgreSQL by construction here, whatever ``UEC_TEST_STORE`` says: a
SQLite file cannot become unreachable while the process runs.
"""

from __future__ import annotations

from tests.api.conftest import Consumer
from tests.replicas.tcp_proxy import TcpProxy
from tests.replicas.test_store_outage import outage  # noqa: F401 (fixture)


async def test_ready_is_503_while_the_store_is_unreachable_and_200_once_it_is_back(
    outage: tuple[Consumer, TcpProxy],  # noqa: F811
) -> None:
    """Cutting the store's connection turns ready to 503 (store not ok); restoring it, 200."""
    consumer, proxy = outage
    assert (await consumer.client.get("/health/ready")).status == 200
    await proxy.cut()
    cut = await consumer.client.get("/health/ready")
    body = await cut.json()
    assert cut.status == 503 and body["store"]["ok"] is False, body
    assert all(route["ok"] for route in body["routes"].values()), "the diary stayed up"
    assert (await consumer.client.get("/health/live")).status == 200
    await proxy.restore()
    back = await consumer.client.get("/health/ready")
    assert back.status == 200, await back.text()
