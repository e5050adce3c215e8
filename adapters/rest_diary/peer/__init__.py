"""The REST diary's reference peer: a real Diary API v2 server with its own SQLite diary.

Start it in-process (tests) with ``start_peer`` or from a shell with
``python -m adapters.rest_diary.peer --port N --db PATH [--fault MODE]``.
"""

from __future__ import annotations

from dataclasses import dataclass
from zoneinfo import ZoneInfo

from aiohttp import web

from adapters.diary_toolkit.peer.diary import Diary
from adapters.diary_toolkit.peer.faults import FaultSpec, Mode, Switchboard
from adapters.rest_diary.peer.app import PeerAuth, PeerState, build_app

__all__ = ["FaultSpec", "Mode", "PeerAuth", "RunningPeer", "start_peer"]


@dataclass
class RunningPeer:
    state: PeerState
    runner: web.AppRunner
    host: str
    port: int

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def api(self) -> str:
        return f"{self.url}/api/v2"

    @property
    def diary(self) -> Diary:
        return self.state.diary

    def fault(self, spec: FaultSpec | None) -> None:
        """Set (or clear, with None) the injected fault."""
        self.state.faults.set(spec)

    async def stop(self) -> None:
        await self.runner.cleanup()
        await self.state.diary.close()


async def start_peer(
    db: str,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    timezone: str = "Europe/London",
    days: int = 7,
    auth: PeerAuth | None = None,
    fault: FaultSpec | None = None,
) -> RunningPeer:
    """Open (or create and seed) the diary at ``db`` and serve it on ``host:port``."""
    diary = await Diary.open(db, ZoneInfo(timezone), days)
    state = PeerState(diary=diary, auth=auth or PeerAuth(), faults=Switchboard())
    state.faults.set(fault)
    # handler_cancellation: a slow handler stops when its client gives up, so a
    # "slow" fault never holds the peer's shutdown.
    runner = web.AppRunner(
        build_app(state), handler_cancellation=True, shutdown_timeout=1.0, access_log=None
    )
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    try:
        await site.start()
    except OSError:
        await runner.cleanup()
        await diary.close()
        raise
    bound = runner.addresses[0][1]
    return RunningPeer(state, runner, host, int(bound))
