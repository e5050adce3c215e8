"""How the adapter proves who it is: a static API key, or OAuth2 client credentials.

The OAuth2 token is cached until shortly before it expires and fetched by one
caller at a time (a burst of bookings makes one token request, not twenty).
A 401 from the API drops the cached token; the caller resends once, which is
safe because a 401 means the supplier did nothing. Tokens and secrets are
never logged.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import Callable
from typing import Protocol
from urllib.parse import urlencode

import aiohttp
import structlog

from adapters import _http
from adapters.domain import CallContext
from adapters.errors import SupplierProtocolError, SupplierUnavailable

log = structlog.get_logger(__name__)


class Credentials(Protocol):
    #: Whether a 401 is worth one more try with fresh credentials.
    refreshable: bool

    async def headers(self, session: aiohttp.ClientSession, ctx: CallContext) -> dict[str, str]:
        """Headers that authenticate one request."""
        ...

    def invalidate(self) -> None:
        """Forget cached credentials (the supplier refused them)."""
        ...


class ApiKey:
    refreshable = False

    def __init__(self, header: str, key: str) -> None:
        self._headers = {header: key}

    async def headers(self, session: aiohttp.ClientSession, ctx: CallContext) -> dict[str, str]:
        return dict(self._headers)

    def invalidate(self) -> None:
        return None


class ClientCredentials:
    """RFC 6749 section 4.4: client id and secret (HTTP Basic) for a bearer token."""

    refreshable = True

    def __init__(
        self,
        token_url: str,
        client_id: str,
        client_secret: str,
        *,
        scope: str | None,
        margin_s: float,
        policy: _http.Policy,
        adapter: str,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._url = token_url
        pair = f"{client_id}:{client_secret}".encode()
        self._basic = "Basic " + base64.b64encode(pair).decode("ascii")
        self._scope = scope
        self._margin = margin_s
        self._policy = policy
        self._adapter = adapter
        self._clock = clock
        self._lock = asyncio.Lock()
        self._token: str | None = None
        self._expires = 0.0

    async def headers(self, session: aiohttp.ClientSession, ctx: CallContext) -> dict[str, str]:
        token = self._valid()
        if token is None:
            async with self._lock:
                token = self._valid() or await self._fetch(session, ctx)
        return {"Authorization": f"Bearer {token}"}

    def invalidate(self) -> None:
        self._token = None

    def _valid(self) -> str | None:
        if self._token is not None and self._clock() < self._expires:
            return self._token
        return None

    async def _fetch(self, session: aiohttp.ClientSession, ctx: CallContext) -> str:
        form = {"grant_type": "client_credentials"}
        if self._scope:
            form["scope"] = self._scope
        out = _http.Outgoing(
            "POST",
            self._url,
            headers={
                "Authorization": self._basic,
                "Content-Type": "application/x-www-form-urlencoded",
                "Accept": "application/json",
            },
            body=urlencode(form).encode(),
            resendable=True,  # asking for a token twice is harmless
        )
        reply = await _http.send(
            session, out, ctx, self._policy, operation="token", adapter=self._adapter
        )
        if reply.status in (400, 401, 403):
            log.error("supplier_token_refused", adapter=self._adapter, status=reply.status)
            raise SupplierUnavailable(
                "the supplier refused the adapter's client credentials",
                supplier_detail=f"HTTP {reply.status} from the token endpoint",
            )
        if reply.status != 200:
            raise SupplierUnavailable(
                "the supplier's token endpoint failed", supplier_detail=f"HTTP {reply.status}"
            )
        token, lifetime = _parse_token(reply.body)
        # A margin longer than the token's life would refetch on every call.
        margin = min(self._margin, lifetime / 2)
        self._token, self._expires = token, self._clock() + lifetime - margin
        log.info("supplier_token_fetched", adapter=self._adapter, expires_in_s=lifetime)
        return token


def _parse_token(body: bytes) -> tuple[str, float]:
    try:
        data = json.loads(body)
        token = data["access_token"]
        lifetime = float(data.get("expires_in", 300))
        kind = str(data.get("token_type", "Bearer"))
    except (ValueError, KeyError, TypeError, AttributeError):
        raise SupplierProtocolError("the token endpoint's answer was malformed") from None
    if not isinstance(token, str) or not token or kind.lower() != "bearer" or lifetime <= 0:
        raise SupplierProtocolError("the token endpoint's answer was not a bearer token")
    return token, lifetime
