"""The ITK reference peers: a receiver (a legacy provider's ITK 2.2 endpoint) and a sender.

Start the receiver in-process (tests) with ``start_receiver`` or from a shell with
``uec-gateway simulate itk-receiver --port N [--store DIR] [--fault MODE[:code][@times]]``;
send a file with ``uec-gateway simulate itk-sender --endpoint URL FILE``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from adapters.itk.peer.app import PATH, ReceiverState, build_app
from adapters.itk.peer.faults import FaultSpec, Mode
from adapters.itk.peer.store import Received, ReceivedStore

__all__ = ["FaultSpec", "Mode", "Received", "RunningReceiver", "start_receiver"]


@dataclass
class RunningReceiver:
    state: ReceiverState
    runner: web.AppRunner
    host: str
    port: int

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}{PATH}"

    @property
    def received(self) -> list[Received]:
        return self.state.store.all()

    def fault(self, spec: FaultSpec | None) -> None:
        """Set (or clear, with None) the injected fault."""
        self.state.faults.set(spec)

    async def stop(self) -> None:
        await self.runner.cleanup()


async def start_receiver(
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    store: Path | None = None,
    fault: FaultSpec | None = None,
    ack_url: str | None = None,
    business_acks: str = "post",
    address: str = "urn:nhs-uk:addressing:ods:RECEIVER",
) -> RunningReceiver:
    """Serve an ITK receiver on ``host:port`` (0: any free port).

    ``business_acks``: ``post`` (to ``ack_url`` or the report's ReplyTo), ``sync`` (in the
    answer's SOAP Header) or ``none``.
    """
    if business_acks not in ("post", "sync", "none"):
        raise ValueError(f"business_acks must be post, sync or none, not {business_acks!r}")
    state = ReceiverState(
        store=ReceivedStore(store), ack_url=ack_url, business_acks=business_acks, address=address
    )
    state.faults.set(fault)
    # handler_cancellation: a "slow" report whose sender gave up is not processed later.
    runner = web.AppRunner(
        build_app(state), handler_cancellation=True, shutdown_timeout=1.0, access_log=None
    )
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
    except OSError:
        await runner.cleanup()
        raise
    return RunningReceiver(state, runner, host, int(runner.addresses[0][1]))
