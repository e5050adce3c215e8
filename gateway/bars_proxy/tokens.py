"""The token endpoint: OAuth 2.0 client credentials with a signed-JWT client assertion.

Security-and-Authorisation/Sender (steps 3-5) and NHS England's "application-restricted
RESTful APIs - signed JWT authentication" pattern it links: the client signs a JWT
(``alg`` RS512, ``typ`` JWT, ``kid`` naming its registered key) whose ``iss`` and ``sub``
are its client id, ``aud`` the token URL, ``jti`` unique and ``exp`` at most five minutes
ahead; the answer is an opaque bearer token. Errors use that pattern's
``{"error", "error_description"}`` shape: malformed requests 400 ``invalid_request``,
unknown clients, keys, audiences and bad signatures 401 ``invalid_client``.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import jwt
from jwt.exceptions import InvalidSignatureError, PyJWTError

from gateway.bars_proxy.settings import ProxySettings

GRANT_TYPE = "client_credentials"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ALGORITHM = "RS512"
#: The signed-JWT pattern: "exp ... no more than 5 minutes in the future".
MAX_ASSERTION_LIFETIME_S = 300


class TokenError(Exception):
    """A refused token request: HTTP status, OAuth error code, description."""

    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.error = error
        self.description = description

    def body(self) -> dict[str, str]:
        return {"error": self.error, "error_description": self.description}


def _request(description: str) -> TokenError:
    return TokenError(400, "invalid_request", description)


def _client(description: str) -> TokenError:
    return TokenError(401, "invalid_client", description)


@dataclass(frozen=True, slots=True)
class Issued:
    """A live access token: who it is for and when it stops working (Unix seconds)."""

    client_id: str
    expires_at: float


@dataclass
class TokenIssuer:
    """Checks client assertions, issues opaque tokens and knows which are live."""

    settings: ProxySettings
    clock: Callable[[], float]
    _tokens: dict[str, Issued] = field(default_factory=dict)
    #: (client id, jti) -> the assertion's exp: a jti is refused until then, and after.
    _seen_jti: dict[tuple[str, str], float] = field(default_factory=dict)

    def issue(self, form: Mapping[str, str]) -> tuple[str, dict[str, str]]:
        """The client id and token answer for a client-credentials form, or ``TokenError``."""
        client_id = self._check_assertion(_assertion(form))
        now = self.clock()
        self._forget_expired(now)
        token = secrets.token_urlsafe(24)
        lifetime = self.settings.token_lifetime_s
        self._tokens[token] = Issued(client_id, now + lifetime)
        return client_id, {
            "access_token": token,
            "expires_in": str(lifetime),
            "token_type": "Bearer",
            "issued_at": str(int(now * 1000)),
        }

    def check(self, token: str) -> Issued | None:
        """The token's grant if it was issued here (expired or not), else None."""
        return self._tokens.get(token)

    def _forget_expired(self, now: float) -> None:
        # Keep expired tokens for a while so their use is "expired" (403), not "unknown".
        horizon = now - 3600
        self._tokens = {t: i for t, i in self._tokens.items() if i.expires_at > horizon}
        self._seen_jti = {k: exp for k, exp in self._seen_jti.items() if exp > horizon}

    def _check_assertion(self, assertion: str) -> str:
        try:
            header = jwt.get_unverified_header(assertion)
            claims: dict[str, Any] = jwt.decode(assertion, options={"verify_signature": False})
        except PyJWTError:
            raise _request("Malformed JWT in client_assertion") from None
        _check_header(header)
        client_id = _subject(claims)
        keys = self.settings.clients.get(client_id)
        if keys is None:
            raise _client("Invalid 'iss'/'sub' claims in client_assertion JWT")
        pem = keys.get(header["kid"])
        if pem is None:
            raise _client("Invalid 'kid' header in client_assertion JWT - no matching public key")
        if claims.get("aud") != self.settings.token_url:
            raise _client("Missing or non-matching 'aud' claim in client_assertion JWT")
        _verify_signature(assertion, pem)
        self._check_times_and_jti(client_id, claims)
        return client_id

    def _check_times_and_jti(self, client_id: str, claims: Mapping[str, Any]) -> None:
        jti = claims.get("jti")
        if not isinstance(jti, str) or not jti:
            raise _request("Missing 'jti' claim in client_assertion JWT")
        exp = claims.get("exp")
        if not isinstance(exp, int | float) or isinstance(exp, bool):
            raise _request("Missing 'exp' claim in client_assertion JWT")
        now = self.clock()
        if exp <= now:
            raise _request("Invalid 'exp' claim in client_assertion JWT - JWT has expired")
        if exp > now + MAX_ASSERTION_LIFETIME_S:
            raise _request(
                "Invalid 'exp' claim in client_assertion JWT - more than 5 minutes in future"
            )
        key = (client_id, jti)
        if key in self._seen_jti:
            raise _request("Non-unique 'jti' claim in client_assertion JWT")
        self._seen_jti[key] = float(exp)


def _assertion(form: Mapping[str, str]) -> str:
    grant = form.get("grant_type")
    if not grant:
        raise _request("grant_type is missing")
    if grant != GRANT_TYPE:
        raise TokenError(400, "unsupported_grant_type", "grant_type is invalid")
    if form.get("client_assertion_type") != ASSERTION_TYPE:
        raise _request(f"Missing or invalid client_assertion_type - must be '{ASSERTION_TYPE}'")
    assertion = form.get("client_assertion")
    if not assertion:
        raise _request("Missing client_assertion")
    return assertion


def _check_header(header: Mapping[str, Any]) -> None:
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise _request("Missing 'kid' header in client_assertion JWT")
    if header.get("alg") != ALGORITHM:
        raise _request(
            "Invalid 'alg' header in client_assertion JWT - unsupported JWT algorithm"
            f" - must be '{ALGORITHM}'"
        )
    if header.get("typ", "JWT") != "JWT":
        raise _request("Invalid 'typ' header in client_assertion JWT - must be 'JWT'")


def _subject(claims: Mapping[str, Any]) -> str:
    iss, sub = claims.get("iss"), claims.get("sub")
    if not isinstance(iss, str) or not iss or iss != sub:
        raise _request("Missing or non-matching 'iss'/'sub' claims in client_assertion JWT")
    return iss


def _verify_signature(assertion: str, pem: str) -> None:
    try:
        jwt.decode(
            assertion,
            pem,
            algorithms=[ALGORITHM],
            # Claims are checked above, against our clock, with the pattern's own messages.
            options={
                "verify_exp": False,
                "verify_aud": False,
                "verify_iat": False,
                "verify_nbf": False,
                "verify_iss": False,
            },
        )
    except InvalidSignatureError:
        raise _client("Invalid signature in client_assertion JWT") from None
    except PyJWTError:
        raise _request("Malformed JWT in client_assertion") from None
