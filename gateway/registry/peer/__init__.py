"""The reference national registry: a real aiohttp server keeping BaRS booking pointers.

For tests, demos and integrators (``uec-gateway simulate registry --port N``):
pointers are kept in memory; ``RegistryPeer.start`` runs one in-process.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aiohttp import web

from gateway.registry.peer.app import create_app
from gateway.registry.peer.faults import Fault, Mode, parse_cli
from gateway.registry.peer.state import PeerState

__all__ = ["Fault", "Mode", "PeerState", "RegistryPeer", "parse_cli"]


@dataclass
class RegistryPeer:
    state: PeerState
    runner: web.AppRunner
    host: str
    port: int

    @classmethod
    async def start(
        cls,
        host: str = "127.0.0.1",
        port: int = 0,
        base: str = "/FHIR/R4",
        fault: Fault | None = None,
    ) -> RegistryPeer:
        state = PeerState(base=base)
        state.set_fault(fault)
        runner = web.AppRunner(create_app(state), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        await site.start()
        bound = int(runner.addresses[0][1]) if port == 0 else port
        return cls(state, runner, host, bound)

    @property
    def url(self) -> str:
        """The FHIR base a gateway's ``registry.url`` names."""
        return f"http://{self.host}:{self.port}{self.state.base}"

    def pointers(self) -> list[dict[str, Any]]:
        return list(self.state.pointers.values())

    def fault(self, fault: Fault | None) -> None:
        self.state.set_fault(fault)

    async def stop(self) -> None:
        await self.runner.cleanup()
