"""What the reference registry holds: pointers by id, the X-Request-Ids it has served, faults."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from multidict import CIMultiDict

from gateway.registry.peer.faults import Fault, Mode

_LOSE = web.RequestKey("registry_peer_lose_answer", bool)


@dataclass
class PeerState:
    #: Path prefix of the FHIR root (e.g. "/FHIR/R4"; "" for the server root).
    base: str = ""
    pointers: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: X-Request-Id of each write served -> the pointer it made or changed.
    requests: dict[str, str] = field(default_factory=dict)
    stats: Counter[str] = field(default_factory=Counter)
    #: Headers of every request served (for tests: what a sender sent).
    seen_headers: list[CIMultiDict[str]] = field(default_factory=list)
    fault: Fault | None = None
    left: int | None = None

    def set_fault(self, fault: Fault | None) -> None:
        self.fault = None if fault is None or fault.mode is Mode.NONE else fault
        self.left = fault.times if fault is not None else None

    def take_fault(self, operation: str) -> Fault | None:
        fault = self.fault
        if fault is None or (fault.operations and operation not in fault.operations):
            return None
        if self.left is not None:
            self.left -= 1
            if self.left <= 0:
                self.fault = None
        return fault

    @staticmethod
    def lose(request: web.Request) -> None:
        request[_LOSE] = True

    @staticmethod
    def lose_answer(request: web.Request) -> bool:
        return bool(request.get(_LOSE, False))


STATE = web.AppKey("registry_peer", PeerState)
