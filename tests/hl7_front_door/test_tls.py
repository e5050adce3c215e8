"""MLLP over TLS at the front door: a consumer trusting the gateway's certificate books."""

from __future__ import annotations

import ssl
from pathlib import Path

from tests.hl7_front_door.conftest import Start
from tests.hl7_front_door.legacy import Legacy, ack_of
from tests.hl7v2.test_tls import _self_signed


async def test_search_over_tls(start_door: Start, tmp_path: Path) -> None:
    """With hl7_front_door.tls enabled a consumer with the CA searches over TLS."""
    cert, key = _self_signed(tmp_path)
    tls = f"\n  tls:\n    enabled: true\n    cert_file: {cert}\n    key_file: {key}"
    door = await start_door(tls=tls)
    trusted = ssl.create_default_context(cafile=str(cert))
    secure = Legacy(door.legacy.client.host, door.legacy.client.port, tls=trusted)
    try:
        assert ack_of(await secure.search()).code == "AA"
    finally:
        await secure.close()
