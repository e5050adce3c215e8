"""A webhook receiver on 127.0.0.1 that keeps what it is sent (the alerts' test peer)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass
class Webhook:
    """Every JSON body POSTed to ``/hook``; answers ``status`` (503 to play a down receiver)."""

    status: int = 200
    received: list[dict[str, Any]] = field(default_factory=list)
    refused: int = 0
    authorizations: list[str] = field(default_factory=list)
    url: str = ""
    _runner: web.AppRunner | None = None
    _arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def _hook(self, request: web.Request) -> web.Response:
        self.authorizations.append(request.headers.get("Authorization", ""))
        if self.status >= 300:
            self.refused += 1
            self._arrived.set()
            return web.Response(status=self.status)
        self.received.append(await request.json())
        self._arrived.set()
        return web.Response(status=204)

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/hook", self._hook)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}/hook"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def wait_refused(self, count: int, timeout_s: float = 10.0) -> None:
        """Once ``count`` posts have been refused."""
        async with asyncio.timeout(timeout_s):
            while self.refused < count:
                self._arrived.clear()
                await self._arrived.wait()

    async def wait_for(self, count: int, timeout_s: float = 10.0) -> list[dict[str, Any]]:
        """The first ``count`` alerts, once that many have arrived."""
        async with asyncio.timeout(timeout_s):
            while len(self.received) < count:
                self._arrived.clear()
                await self._arrived.wait()
        return self.received[:count]
