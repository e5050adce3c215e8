"""What one running proxy holds: its issuer, fault queue and the requests it saw."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

from gateway.bars_proxy.faults import FaultQueue
from gateway.bars_proxy.settings import ProxySettings
from gateway.bars_proxy.tokens import TokenIssuer

#: How many requests ``GET /_control/requests`` remembers (the newest).
SEEN_LIMIT = 1000


@dataclass
class Seen:
    """One API request as ``GET /_control/requests`` shows it: ids and headers, no body."""

    method: str
    path: str
    query: str
    x_request_id: str | None
    x_correlation_id: str | None
    nhsd: dict[str, str]
    target: str | None = None
    fault: str | None = None
    forwarded: bool = False
    #: None when the connection was closed without an answer.
    status: int | None = None

    def json(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "path": self.path,
            "query": self.query,
            "status": self.status,
            "X-Request-Id": self.x_request_id,
            "X-Correlation-Id": self.x_correlation_id,
            "headers": self.nhsd,
            "target": self.target,
            "fault": self.fault,
            "forwarded": self.forwarded,
        }


@dataclass
class ProxyState:
    settings: ProxySettings
    clock: Callable[[], float]
    issuer: TokenIssuer
    faults: FaultQueue = field(default_factory=FaultQueue)
    seen: deque[Seen] = field(default_factory=lambda: deque(maxlen=SEEN_LIMIT))
    session: aiohttp.ClientSession | None = None

    @property
    def client(self) -> aiohttp.ClientSession:
        if self.session is None:
            raise RuntimeError("the proxy's client session is not open")
        return self.session


STATE: web.AppKey[ProxyState] = web.AppKey("bars_proxy_state", ProxyState)
