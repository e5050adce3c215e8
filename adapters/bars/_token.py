"""Application-restricted OAuth 2.0: client credentials with a signed-JWT assertion.

Security-and-Authorisation/Sender (NHS APIM "signed JWT authentication"): the sender
signs a JWT with its registered RSA key (``alg: RS512``, ``kid`` in the header;
``iss == sub ==`` the client id, ``aud`` the token URL, a fresh ``jti``, ``exp`` at most
five minutes ahead), swaps it at the token endpoint for a bearer token, and reuses that
token until shortly before it expires. A 401 from the proxy drops the cached token so
the next send fetches a new one (the adapter does this once per request).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import aiohttp
import jwt
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from adapters import errors

#: The spec's ceiling on an assertion's life; we stay under it.
ASSERTION_LIFETIME_S = 240
#: Stop using a token this long before it expires (its use may take a while).
EARLY_S = 30.0
JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


class TokenRefused(errors.SupplierRefused):
    """The token endpoint refused this application (400/401): fix the registration."""


def load_key(pem: bytes) -> RSAPrivateKey:
    """The RSA private key of a PEM; ``ValueError`` naming the problem (never the key)."""
    try:
        key = load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as exc:
        kind = type(exc).__name__
        raise ValueError(f"the private key is not an unencrypted PEM key ({kind})") from None
    if not isinstance(key, RSAPrivateKey):
        raise ValueError("RS512 needs an RSA private key")
    return key


@dataclass
class _Held:
    token: str
    good_until: float


class TokenSource:
    """Bearer tokens for one registered application, cached and fetched one at a time."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        token_url: str,
        client_id: str,
        kid: str,
        key: RSAPrivateKey,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._session = session
        self._url = token_url
        self._client_id = client_id
        self._kid = kid
        self._key = key
        self._clock = clock
        self._held: _Held | None = None
        self._lock = asyncio.Lock()
        #: Tokens fetched so far (for the log and tests).
        self.fetched = 0

    def assertion(self) -> str:
        now = int(self._clock())
        claims = {
            "iss": self._client_id,
            "sub": self._client_id,
            "aud": self._url,
            "jti": str(uuid.uuid4()),
            "iat": now,
            "exp": now + ASSERTION_LIFETIME_S,
        }
        return jwt.encode(
            claims, self._key, algorithm="RS512", headers={"kid": self._kid, "typ": "JWT"}
        )

    async def token(self) -> str:
        """A token good for a while yet: the cached one, or a new one."""
        async with self._lock:
            held = self._held
            if held is not None and self._clock() < held.good_until:
                return held.token
            self._held = await self._fetch()
            return self._held.token

    def forget(self, token: str) -> None:
        """The proxy refused ``token`` (401): the next ``token()`` fetches another."""
        if self._held is not None and self._held.token == token:
            self._held = None

    async def _fetch(self) -> _Held:
        form = {
            "grant_type": "client_credentials",
            "client_assertion_type": JWT_BEARER,
            "client_assertion": self.assertion(),
        }
        async with self._session.post(self._url, data=form) as resp:
            status = resp.status
            try:
                body = await resp.json(content_type=None)
            except (ValueError, aiohttp.ContentTypeError):
                body = None
        if status in (400, 401, 403):
            code = body.get("error") if isinstance(body, dict) else None
            raise TokenRefused(
                f"the token endpoint refused this application (HTTP {status})",
                supplier_detail=f"HTTP {status} {code if isinstance(code, str) else ''}".strip(),
            )
        if status != 200 or not isinstance(body, dict) or not body.get("access_token"):
            raise errors.SupplierUnavailable(
                f"the token endpoint failed (HTTP {status})", supplier_detail=f"HTTP {status}"
            )
        try:
            lifetime = float(body.get("expires_in", 300))
        except (TypeError, ValueError):
            lifetime = 300.0
        self.fetched += 1
        good_for = max(lifetime - EARLY_S, lifetime / 2)
        return _Held(str(body["access_token"]), self._clock() + good_for)
