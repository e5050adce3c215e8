"""The SOAP diary's reference peer: a real DiaryService (SOAP 1.1 and 1.2) with its own diary.

Start it in-process (tests) with ``start_peer`` or from a shell with
``python -m adapters.soap_diary.peer --port N --db PATH [--fault MODE]``.
"""

from __future__ import annotations

from dataclasses import dataclass
from zoneinfo import ZoneInfo

from aiohttp import web

from adapters.diary_toolkit.peer.diary import Diary
from adapters.diary_toolkit.peer.faults import FaultSpec, Mode
from adapters.soap_diary.peer.app import SoapPeerState, build_app

__all__ = ["FaultSpec", "Mode", "RunningSoapPeer", "start_peer"]


@dataclass
class RunningSoapPeer:
    state: SoapPeerState
    runner: web.AppRunner
    host: str
    port: int

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}/DiaryService.svc"

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
    basic: str | None = None,
    fault: FaultSpec | None = None,
) -> RunningSoapPeer:
    """Open (or create and seed) the diary at ``db`` and serve DiaryService on ``host:port``."""
    diary = await Diary.open(db, ZoneInfo(timezone), days)
    state = SoapPeerState(diary=diary, basic=basic)
    state.faults.set(fault)
    # handler_cancellation: a "slow" handler stops when its client gives up.
    runner = web.AppRunner(
        build_app(state), handler_cancellation=True, shutdown_timeout=1.0, access_log=None
    )
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
    except OSError:
        await runner.cleanup()
        await diary.close()
        raise
    return RunningSoapPeer(state, runner, host, int(runner.addresses[0][1]))
