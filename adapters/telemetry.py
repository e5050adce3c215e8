"""A seam through which adapters report countable events, without knowing who counts.

Adapters sit below the gateway and may not import it; the gateway binds a
``Sink`` (``gateway/metrics``) in a context variable that every task and
listener started under it inherits. With no sink bound, ``emit`` does nothing.
Labels must be few and bounded (an adapter name, a stage), never an id.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Protocol


class Sink(Protocol):
    def message(self, channel: str, stage: str) -> None:
        """One inbound message on ``channel`` reached ``stage`` (received, applied...)."""


SINK: ContextVar[Sink | None] = ContextVar("uec_telemetry_sink", default=None)


def message(channel: str, stage: str) -> None:
    """Count one inbound message at ``stage`` on ``channel``, if anyone is counting."""
    sink = SINK.get()
    if sink is not None:
        sink.message(channel, stage)
