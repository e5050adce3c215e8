"""A mock national proxy on 127.0.0.1 in front of a real gateway's BaRS door, and a sender.

The sender does what Security-and-Authorisation/Sender says: signs a JWT (RS512,
its kid) with its own RSA key, swaps it for an access token, then calls the API
root with the BaRS headers (tests/bars/conftest.Sender builds those).
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import jwt
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from multidict import CIMultiDict

from gateway.bars_proxy import API_ROOT, ProxySettings
from gateway.bars_proxy.app import create_app
from tests.bars.conftest import BARS_ROOT_PATH, DOS, DOS_ID, Doors, both_doors, doors

__all__ = ["both_doors", "doors"]

CLIENT_ID = "test-sender-app"
KID = "test-1"


@dataclass
class Clock:
    """Now, moved by ``offset`` seconds: a token's life passes without sleeping."""

    offset: float = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


def private_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def public_pem(key: rsa.RSAPrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def private_pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


@pytest.fixture(scope="session")
def sender_key() -> rsa.RSAPrivateKey:
    return private_key()


@dataclass
class Proxy:
    """A running proxy and a sender's session with it."""

    settings: ProxySettings
    session: aiohttp.ClientSession
    key: rsa.RSAPrivateKey
    clock: Clock
    bars_headers: Callable[..., dict[str, str]] = field(default=lambda **kw: dict(kw))

    @property
    def url(self) -> str:
        return self.settings.base_url

    def assertion(
        self,
        *,
        key: rsa.RSAPrivateKey | None = None,
        headers: dict[str, Any] | None = None,
        **claims: Any,
    ) -> str:
        """A client assertion, correct unless ``claims``/``headers`` say otherwise (None drops)."""
        now = int(time.time())
        body = {
            "iss": CLIENT_ID,
            "sub": CLIENT_ID,
            "aud": self.settings.token_url,
            "jti": str(uuid.uuid4()),
            "exp": now + 240,
            **claims,
        }
        head = {"typ": "JWT", "kid": KID, **(headers or {})}
        return jwt.encode(
            {k: v for k, v in body.items() if v is not None},
            key or self.key,
            algorithm=head.pop("alg", "RS512"),
            headers={k: v for k, v in head.items() if v is not None},
        )

    async def ask_token(self, assertion: str | None = None, **form: str) -> aiohttp.ClientResponse:
        data = {
            "grant_type": "client_credentials",
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": assertion if assertion is not None else self.assertion(),
            **form,
        }
        return await self.session.post(self.settings.token_url, data=data)

    async def token(self) -> str:
        resp = await self.ask_token()
        assert resp.status == 200, await resp.text()
        value: str = (await resp.json())["access_token"]
        return value

    async def call(
        self,
        method: str,
        path: str,
        *,
        token: str | None = None,
        body: Any = None,
        params: Any = None,
        **headers: str,
    ) -> aiohttp.ClientResponse:
        """An API call with a fresh token and the BaRS headers (a header '' is left out)."""
        sent = self.bars_headers(Authorization=f"Bearer {token or await self.token()}")
        sent.update(headers)
        if body is not None:
            sent.setdefault("Content-Type", "application/fhir+json")
        return await self.session.request(
            method,
            f"{self.url}{API_ROOT}{path}",
            headers={k: v for k, v in sent.items() if v != ""},
            data=json.dumps(body).encode() if body is not None else None,
            params=params,
        )

    async def control(self, method: str, path: str, body: Any = None) -> Any:
        async with self.session.request(
            method, f"{self.url}/_control{path}", json=body
        ) as resp:
            assert resp.status < 300, await resp.text()
            return await resp.json() if resp.status != 204 else None

    async def fault(self, **spec: Any) -> None:
        await self.control("POST", "/faults", spec)


StartProxy = Callable[..., Awaitable[Proxy]]


@pytest.fixture
async def start_proxy(
    sender_key: rsa.RSAPrivateKey, unused_tcp_port_factory: Callable[[], int]
) -> AsyncIterator[StartProxy]:
    """Start proxies on 127.0.0.1 that know the test client's key (real sockets)."""
    servers: list[TestServer] = []
    sessions: list[aiohttp.ClientSession] = []

    async def start(**options: Any) -> Proxy:
        clock = options.pop("clock", None) or Clock()
        options.setdefault("control", True)
        settings = ProxySettings(
            port=unused_tcp_port_factory(),
            clients={CLIENT_ID: {KID: public_pem(sender_key)}},
            **options,
        )
        server = TestServer(create_app(settings, clock=clock), host="127.0.0.1", port=settings.port)
        await server.start_server()
        servers.append(server)
        session = aiohttp.ClientSession()
        sessions.append(session)
        return Proxy(settings, session, sender_key, clock)

    yield start
    for session in sessions:
        await session.close()
    for server in servers:
        await server.close()


@pytest.fixture
async def proxy(start_proxy: StartProxy) -> Proxy:
    """A proxy with no receivers (for the token endpoint and the checks before routing)."""
    found = await start_proxy(routes={f"{DOS}|{DOS_ID}": "http://127.0.0.1:9/bars/FHIR/R4"})
    found.bars_headers = _headers_without_receiver
    return found


def _headers_without_receiver(**extra: str) -> dict[str, str]:
    from tests.bars.conftest import Sender

    return Sender(client=None, settings=None).headers(**extra)  # type: ignore[arg-type]


@dataclass
class Routed:
    """A proxy whose DoS target is a real gateway's BaRS door over the embedded diary."""

    proxy: Proxy
    doors: Doors

    @property
    def receiver_root(self) -> str:
        return f"http://127.0.0.1:{self.doors.bars.client.server.port}{BARS_ROOT_PATH}"


@pytest.fixture
async def routed(start_proxy: StartProxy, doors: Doors) -> Routed:
    port = doors.bars.client.server.port
    found = await start_proxy(
        routes={f"{DOS}|{DOS_ID}": f"http://127.0.0.1:{port}{BARS_ROOT_PATH}"},
        receiver_timeout_s=4.0,
    )
    found.bars_headers = doors.bars.headers
    return Routed(found, doors)


@dataclass
class Heard:
    """One request a recording receiver got."""

    method: str
    path_qs: str
    headers: CIMultiDict[str]
    body: bytes


@dataclass
class Recorder:
    """A receiver that answers what it is told and records what it heard."""

    heard: list[Heard] = field(default_factory=list)
    status: int = 200
    body: bytes = b'{"resourceType": "Bundle", "type": "searchset", "total": 0}'
    headers: dict[str, str] = field(
        default_factory=lambda: {"Content-Type": "application/fhir+json", "ETag": 'W/"3"'}
    )
    delay_s: float = 0.0

    async def handle(self, request: web.Request) -> web.Response:
        headers = CIMultiDict(request.headers)
        self.heard.append(Heard(request.method, request.path_qs, headers, await request.read()))
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        return web.Response(status=self.status, body=self.body, headers=self.headers)


@dataclass
class Recorded:
    proxy: Proxy
    receiver: Recorder


@pytest.fixture
async def recorded(
    start_proxy: StartProxy, unused_tcp_port_factory: Callable[[], int]
) -> AsyncIterator[Recorded]:
    """A proxy routing the DoS target to a recording receiver on 127.0.0.1."""
    recorder = Recorder()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", recorder.handle)
    server = TestServer(app, host="127.0.0.1", port=unused_tcp_port_factory())
    await server.start_server()
    found = await start_proxy(
        routes={f"{DOS}|{DOS_ID}": f"http://127.0.0.1:{server.port}/rx/FHIR/R4"},
        receiver_timeout_s=1.0,
    )
    found.bars_headers = _headers_without_receiver
    try:
        yield Recorded(found, recorder)
    finally:
        await server.close()
