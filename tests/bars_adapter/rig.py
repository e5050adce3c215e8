"""The rig for the ``bars`` adapter: a receiver, the mock proxy in front, adapters on it.

- the receiver: a real gateway on 127.0.0.1 serving its BaRS door (``/bars/FHIR/R4``)
  over the embedded demo diary (as tests/bars/conftest.py starts it); its targets
  table maps the DoS id ``DOS_ID`` to the demo's urgent treatment centre;
- the proxy: ``gateway.bars_proxy`` in-process, ``control`` on, routing ``DOS|DOS_ID``
  to the receiver and knowing this rig's client key;
- ``Rig.make_adapter``: a ``kind: bars`` adapter pointed at the proxy;
- ``adapter_entry_yaml``: the YAML ``adapters:`` entry for such an adapter (key file and
  targets CSV written to a folder), for end-to-end tests of a gateway using it.

Reusable from other test packages: ``from tests.bars_adapter.rig import bars_rig, Rig``
(and list ``bars_rig`` plus its fixtures in that package's conftest).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from adapters.bars import BarsAdapter, create
from gateway.bars_proxy import ProxySettings
from gateway.bars_proxy.app import create_app as create_proxy
from tests.bars.conftest import BARS_ROOT_PATH, DOS, DOS_ID, Doors, both_doors

__all__ = [
    "Rig",
    "adapter_entry_yaml",
    "adapter_options",
    "bars_rig",
    "both_doors",
    "write_rig_files",
]

CLIENT_ID = "uec-gateway-bars-sender"
KID = "bars-test-1"
#: The national service id the gateway books by; the receiver names it ``DOS_ID``.
SERVICE_ID = "918999198999"
SENDER_ODS = "X26"


def new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def public_pem(key: rsa.RSAPrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def private_pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def write_rig_files(folder: Path, key: rsa.RSAPrivateKey) -> tuple[Path, Path]:
    """The private key file and the targets CSV (service -> DoS target) in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    key_file = folder / "bars-sender-key.pem"
    key_file.write_bytes(private_pem(key))
    targets = folder / "bars-targets.csv"
    targets.write_text(
        "service_id,target_system,target_value,ods_code,name\n"
        f"{SERVICE_ID},{DOS},{DOS_ID},RX1,Fernbrook Urgent Treatment Centre\n",
        encoding="utf-8",
    )
    return key_file, targets


def adapter_options(
    proxy: ProxySettings, key_file: Path, targets: Path, **overrides: Any
) -> dict[str, Any]:
    return {
        "proxy_url": proxy.api_url,
        "token_url": proxy.token_url,
        "client_id": CLIENT_ID,
        "kid": KID,
        "private_key_file": str(key_file),
        "targets": str(targets),
        "organisation": {"ods_code": SENDER_ODS, "name": "Test Gateway Organisation"},
        "timeout_s": 8,
        "backoff_s": 0.05,
        **overrides,
    }


def adapter_entry_yaml(
    proxy: ProxySettings,
    folder: Path,
    key: rsa.RSAPrivateKey,
    *,
    name: str = "bars",
    **overrides: Any,
) -> str:
    """The ``adapters:`` list entry (YAML, two-space indented) of a ``kind: bars`` adapter."""
    key_file, targets = write_rig_files(folder, key)
    options = adapter_options(proxy, key_file, targets, **overrides)
    lines = [f"  - name: {name}", "    kind: bars", "    options:"]
    lines += [f"      {k}: {json.dumps(v)}" for k, v in options.items()]
    return "\n".join(lines) + "\n"


@dataclass
class Rig:
    """Receiver, proxy (with ``/_control``) and the files an adapter needs."""

    tmp: Path
    doors: Doors
    proxy: ProxySettings
    key: rsa.RSAPrivateKey
    key_file: Path
    targets: Path
    session: aiohttp.ClientSession
    made: list[BarsAdapter]

    @property
    def receiver_root(self) -> str:
        return f"http://127.0.0.1:{self.doors.bars.client.server.port}{BARS_ROOT_PATH}"

    async def make_adapter(self, name: str = "bars", **overrides: Any) -> BarsAdapter:
        """A ``kind: bars`` adapter on this proxy (closed at the end of the test)."""
        options = adapter_options(self.proxy, self.key_file, self.targets, **overrides)
        adapter = await create(name, options, self.tmp)
        assert isinstance(adapter, BarsAdapter)
        self.made.append(adapter)
        return adapter

    def entry_yaml(self, **overrides: Any) -> str:
        return adapter_entry_yaml(self.proxy, self.tmp / "bars-entry", self.key, **overrides)

    async def control(self, method: str, path: str, body: Any = None) -> Any:
        async with self.session.request(
            method, f"{self.proxy.base_url}/_control{path}", json=body
        ) as resp:
            assert resp.status < 300, await resp.text()
            return await resp.json() if resp.status != 204 else None

    async def fault(self, **spec: Any) -> None:
        await self.control("POST", "/faults", spec)

    async def seen(self) -> list[dict[str, Any]]:
        """What the proxy saw (method, path, status, ids, NHSD-* headers)."""
        found = await self.control("GET", "/requests")
        return list(found["requests"] if isinstance(found, dict) else found)


StartRig = Callable[..., Any]


@pytest.fixture
async def bars_rig(
    tmp_path: Path, unused_tcp_port_factory: Callable[[], int], both_doors: Any
) -> AsyncIterator[Rig]:
    """Receiver gateway + mock proxy on 127.0.0.1; adapters from ``rig.make_adapter``."""
    doors: Doors = await both_doors()
    key = new_key()
    key_file, targets = write_rig_files(tmp_path / "sender", key)
    port = doors.bars.client.server.port
    settings = ProxySettings(
        port=unused_tcp_port_factory(),
        routes={f"{DOS}|{DOS_ID}": f"http://127.0.0.1:{port}{BARS_ROOT_PATH}"},
        clients={CLIENT_ID: {KID: public_pem(key)}},
        receiver_timeout_s=4.0,
        control=True,
    )
    server = TestServer(create_proxy(settings), host="127.0.0.1", port=settings.port)
    await server.start_server()
    session = aiohttp.ClientSession()
    rig = Rig(tmp_path, doors, settings, key, key_file, targets, session, [])
    try:
        yield rig
    finally:
        for adapter in rig.made:
            await adapter.close()
        await session.close()
        await server.close()


def update_message(appointment: dict[str, object], status: str) -> dict[str, object]:
    """A receiver's booking-request update message of ``appointment``, now ``status``
    (End-to-end-workflow/Asynchronous-Workflow), as it POSTs it back to the sender."""
    patient = next(c for c in appointment["contained"])  # type: ignore[attr-defined]
    body = {**appointment, "status": status, "contained": []}
    body["participant"] = [{"actor": {"reference": "urn:uuid:p1"}, "status": "accepted"}]
    header = {
        "resourceType": "MessageHeader",
        "id": str(uuid.uuid4()),
        "eventCoding": {
            "system": "https://fhir.nhs.uk/CodeSystem/message-events-bars",
            "code": "booking-request",
        },
        "source": {"endpoint": f"{DOS}|{DOS_ID}"},
        "reason": {"coding": [{"code": "update"}]},
        "focus": [{"reference": "urn:uuid:a1"}],
    }
    return {
        "resourceType": "Bundle",
        "id": str(uuid.uuid4()),
        "type": "message",
        "entry": [
            {"fullUrl": "urn:uuid:h1", "resource": header},
            {"fullUrl": "urn:uuid:a1", "resource": body},
            {"fullUrl": "urn:uuid:p1", "resource": patient},
        ],
    }
