"""A small Spine Secure Proxy for tests: checks and records the SSP headers, strips
the proxy prefix, forwards to the provider, and injects faults on request.

implementation_api.md: the consumer calls ``https://[ssp]/[provider service root]/[FHIR
request]``; the proxy removes its own prefix before calling the provider. Faults
(a status and body instead of forwarding, a delay, or dropping the connection
after the provider has answered) let tests reach every error path for real.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from dataclasses import dataclass, field

import aiohttp
from aiohttp import web

REQUIRED = ("Ssp-TraceID", "Ssp-From", "Ssp-To", "Ssp-InteractionID")
_HOP_BY_HOP = {"host", "content-length", "transfer-encoding", "connection", "keep-alive"}


@dataclass(frozen=True)
class Seen:
    """One request as the proxy received it."""

    method: str
    #: The path and query exactly as sent, proxy prefix included.
    raw_path: str
    #: The provider URL the proxy forwarded to (prefix stripped).
    target: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Fault:
    """What to do instead of (or after) forwarding a matching request."""

    method: str | None = None
    #: A regular expression searched in the provider URL.
    path: str = ""
    status: int | None = None
    body: bytes = b""
    content_type: str = "application/fhir+json"
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0
    #: Forward, let the provider act, then close the connection without answering.
    drop_after_forward: bool = False
    times: int = 1

    def matches(self, method: str, target: str) -> bool:
        return (self.method in (None, method)) and re.search(self.path, target) is not None


class StubSsp:
    """The proxy; ``allowed`` is the only provider service root it forwards to."""

    def __init__(self, allowed: str) -> None:
        self.allowed = allowed
        self.seen: list[Seen] = []
        #: (method, provider URL, status, Content-Encoding) of every forwarded answer.
        self.answers: list[tuple[str, str, int, str | None]] = []
        self.faults: list[Fault] = []
        self.app = web.Application()
        self.app.router.add_route("*", "/{target:.*}", self._handle)
        self._session: aiohttp.ClientSession | None = None
        self._runner: web.AppRunner | None = None
        self._changed = asyncio.Event()

    async def wait_until(self, condition: Callable[[], bool], limit_s: float = 5.0) -> None:
        """Return once ``condition`` holds, checked whenever a request or answer is recorded."""
        async with asyncio.timeout(limit_s):
            while not condition():
                self._changed.clear()
                await self._changed.wait()

    def inject(self, **fault: object) -> Fault:
        added = Fault(**fault)  # type: ignore[arg-type]
        self.faults.append(added)
        return added

    def requests(self, method: str | None = None, path: str = "") -> list[Seen]:
        return [s for s in self.seen if method in (None, s.method) and re.search(path, s.target)]

    async def start(self, port: int) -> str:
        self._session = aiohttp.ClientSession(auto_decompress=False)
        self._runner = web.AppRunner(self.app)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", port).start()
        return f"http://127.0.0.1:{port}"

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        if self._session is not None:
            await self._session.close()

    def _fault(self, method: str, target: str) -> Fault | None:
        for fault in self.faults:
            if fault.times > 0 and fault.matches(method, target):
                fault.times -= 1
                return fault
        return None

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        target = request.raw_path[1:]
        headers = dict(request.headers)
        self.seen.append(Seen(request.method, request.raw_path, target, headers, body))
        self._changed.set()
        missing = [h for h in REQUIRED if not request.headers.get(h)]
        if missing or not target.startswith(self.allowed + "/"):
            # er_overview.md: the SSP answers 403 forbidden for what it cannot authorise.
            return _outcome(403, "forbidden", "ACCESS_DENIED")
        fault = self._fault(request.method, target)
        if fault is not None and fault.delay_s:
            await asyncio.sleep(fault.delay_s)
        if fault is not None and fault.status is not None:
            return web.Response(
                status=fault.status,
                body=fault.body,
                headers={"Content-Type": fault.content_type, **fault.headers},
            )
        return await self._forward(request, target, body, fault)

    async def _forward(
        self, request: web.Request, target: str, body: bytes, fault: Fault | None
    ) -> web.StreamResponse:
        assert self._session is not None
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP_BY_HOP}
        async with self._session.request(
            request.method, target, headers=headers, data=body or None
        ) as answer:
            raw = await answer.read()
            status = answer.status
            back = {k: v for k, v in answer.headers.items() if k.lower() not in _HOP_BY_HOP}
        self.answers.append(
            (request.method, target, status, answer.headers.get("Content-Encoding"))
        )
        self._changed.set()
        if fault is not None and fault.drop_after_forward:
            assert request.transport is not None
            request.transport.close()
        return web.Response(status=status, body=raw, headers=back)


def _outcome(status: int, code: str, spine: str) -> web.Response:
    body = (
        '{"resourceType":"OperationOutcome","id":"SSP-1","issue":[{"severity":"error",'
        f'"code":"{code}","details":{{"coding":[{{"code":"{spine}"}}]}}}}]}}'
    )
    return web.Response(status=status, body=body.encode(), content_type="application/fhir+json")
