"""Fault injection for the reference registry: misbehave on purpose, on chosen operations.

Modes: ``down`` (drop the connection unanswered), ``503`` (answer Service Unavailable),
``400`` (refuse the request as invalid, as a registry refuses a pointer it will not take),
``slow`` (wait ``delay_s``, then answer), ``lost-response`` (do the work, then drop
the connection, so the answer is lost). A fault spoils the next ``times`` matching
requests (all, if unset), on ``operations`` (create, read, update, delete, search;
all, if empty). Set with ``--fault MODE[:op,op][@times]`` or ``PUT /_peer/fault``.
"""

from __future__ import annotations

import asyncio
import enum
from typing import TYPE_CHECKING

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:
    from gateway.registry.peer.state import PeerState


class Mode(enum.StrEnum):
    NONE = "none"
    DOWN = "down"
    UNAVAILABLE = "503"
    REFUSE = "400"
    SLOW = "slow"
    LOST_RESPONSE = "lost-response"


class Fault(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    mode: Mode
    operations: frozenset[str] = frozenset()
    times: int | None = Field(default=None, ge=1)
    delay_s: float = Field(default=30.0, ge=0, le=600)


def parse_cli(text: str) -> Fault:
    """``MODE[:op,op][@times]``, e.g. ``down``, ``503:create``, ``lost-response:create@1``."""
    text, _, times = text.partition("@")
    mode, _, ops = text.partition(":")
    return Fault(
        mode=Mode(mode),
        operations=frozenset(o for o in ops.split(",") if o),
        times=int(times) if times else None,
    )


async def misbehave(
    request: web.Request, state: PeerState, operation: str
) -> web.StreamResponse | None:
    """The fault's answer to this request, or None to serve it (maybe slowly, maybe lost)."""
    fault = state.take_fault(operation)
    if fault is None:
        return None
    if fault.mode is Mode.SLOW:
        await asyncio.sleep(fault.delay_s)
        return None
    if fault.mode is Mode.LOST_RESPONSE:
        state.lose(request)
        return None
    if fault.mode is Mode.DOWN:
        if request.transport is not None:
            request.transport.abort()
        return web.Response(status=499)
    from gateway.registry.peer.app import outcome

    if fault.mode is Mode.REFUSE:
        return outcome(400, "INVALID_RESOURCE", "refused by an injected fault")
    return outcome(503, "SERVICE_UNAVAILABLE", "the registry is unavailable")
