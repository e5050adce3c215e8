"""Verifying the consumer's bearer JWT (fs_authentication.md).

``verify_bearer`` is the one entry point: it takes the raw Authorization header
and either returns ``Claims`` or raises ``ApiError``:

- no header at all: ``JWT_INVALID`` (403; search_slots.md and the other
  interaction pages: "no valid JWT is supplied ... 403");
- a header that is not ``Bearer <header.payload.signature>`` with base64url JSON
  objects: ``JWT_MALFORMED`` (400; er_overview.md "JWT badly constructed");
- anything else wrong (signature, a claim, the scope): ``JWT_INVALID`` (403).

Every error carries a ``WWW-Authenticate`` challenge (RFC 6750 section 3.1, which
fs_authentication.md requires). Diagnostics name the failing claim but never
contain the token, and echo only short, sanitised non-patient values.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Collection
from typing import Any

import orjson
from jwt import PyJWS
from jwt.exceptions import PyJWTError

from gateway.config import JwtSettings
from gateway.errors import ApiError, ErrorKind
from gateway.security._claims import REQUIRED_CLAIMS, Claims, InvalidClaim, check_claims
from gateway.security._keys import KeyLoadError, KeyRing, VerificationKey, load_keys
from gateway.security._text import header_safe, shown
from gateway.security.interactions import Interaction

__all__ = [
    "REQUIRED_CLAIMS",
    "Claims",
    "KeyLoadError",
    "KeyRing",
    "VerificationKey",
    "load_keys",
    "verify_bearer",
]

_BASE64URL = re.compile(r"[A-Za-z0-9_-]*")
# Signature checks only: every claim is checked by _claims with our own diagnostics.
_JWS = PyJWS(options={"verify_signature": True, "enforce_minimum_key_length": True})


def verify_bearer(
    authorization: str | None,
    *,
    interaction: Interaction,
    settings: JwtSettings,
    audiences: Collection[str],
    now: float,
    keys: KeyRing,
) -> Claims:
    """Check the ``Authorization`` header's JWT for ``interaction``; return its claims.

    ``audiences`` is this service's root URL (and any other accepted);
    ``settings.extra_audiences`` are accepted as well. ``now`` is Unix time in
    seconds. ``keys`` comes from ``load_keys`` at start-up.
    """
    if authorization is None or not authorization.strip():
        raise ApiError(
            ErrorKind.JWT_INVALID,
            "no Authorization header: send 'Authorization: Bearer <JWT>'",
            # RFC 6750 section 3.1: no error code when the request had no credentials.
            headers={"WWW-Authenticate": "Bearer"},
        )
    token, header, payload, signature = _split(authorization)
    algorithm = _check_signature(token, header, signature, settings, keys)
    try:
        return check_claims(
            payload,
            interaction=interaction,
            settings=settings,
            audiences={*audiences, *settings.extra_audiences},
            now=now,
            algorithm=algorithm,
        )
    except InvalidClaim as exc:
        if exc.needed_scope is not None:
            raise _invalid(
                exc.message, error="insufficient_scope", scope=exc.needed_scope
            ) from None
        raise _invalid(exc.message) from None


def _challenge(error: str, description: str, scope: str | None = None) -> dict[str, str]:
    value = f'Bearer error="{error}", error_description="{header_safe(description)}"'
    if scope is not None:
        value += f', scope="{header_safe(scope)}"'
    return {"WWW-Authenticate": value}


def _invalid(
    diagnostics: str, *, error: str = "invalid_token", scope: str | None = None
) -> ApiError:
    return ApiError(
        ErrorKind.JWT_INVALID, diagnostics, headers=_challenge(error, diagnostics, scope)
    )


def _malformed(diagnostics: str) -> ApiError:
    # RFC 6750 section 3.1: a malformed request is "invalid_request" (HTTP 400).
    return ApiError(
        ErrorKind.JWT_MALFORMED, diagnostics, headers=_challenge("invalid_request", diagnostics)
    )


def _split(authorization: str) -> tuple[str, dict[str, Any], dict[str, Any], str]:
    """Token, decoded header, decoded payload and raw signature part of a Bearer header."""
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    # RFC 7235 section 2.1: the auth-scheme is case-insensitive.
    if scheme.lower() != "bearer" or not token:
        raise _malformed("the Authorization header must be 'Bearer <JWT>'")
    parts = token.split(".")
    if len(parts) != 3:
        raise _malformed(
            f"a JWT has 3 parts separated by '.' (header.payload.signature); "
            f"this one has {len(parts)}"
        )
    header = _decode_part(parts[0], "header")
    payload = _decode_part(parts[1], "payload")
    if not _BASE64URL.fullmatch(parts[2]):
        raise _malformed("the JWT signature part is not base64url")
    alg = header.get("alg")
    if not isinstance(alg, str) or not alg:
        raise _malformed("the JWT header has no 'alg'")
    return token, header, payload, parts[2]


def _decode_part(part: str, name: str) -> dict[str, Any]:
    if not part or not _BASE64URL.fullmatch(part):
        raise _malformed(f"the JWT {name} is not base64url")
    try:
        raw = base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
    except (binascii.Error, ValueError):
        raise _malformed(f"the JWT {name} is not base64url") from None
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        # What orjson refuses (NaN, integers beyond 64 bits, deep nesting) is read as
        # before, so every token is judged as it was; orjson is only the fast path.
        try:
            value = json.loads(raw)
        except (ValueError, RecursionError):
            raise _malformed(f"the JWT {name} is not JSON") from None
    if not isinstance(value, dict):
        raise _malformed(f"the JWT {name} is not a JSON object")
    return value


def _check_signature(
    token: str, header: dict[str, Any], signature: str, settings: JwtSettings, keys: KeyRing
) -> str:
    """Accept an unsigned token if allowed, or verify a signed one; return its alg."""
    alg: str = header["alg"]
    if alg == "none":
        # fs_authentication.md: "Consumer systems SHALL generate an empty signature."
        if signature:
            raise _invalid("an unsigned JWT (alg 'none') must have an empty signature part")
        if not settings.allow_unsigned:
            raise _invalid("unsigned JWTs (alg 'none') are not accepted; the JWT must be signed")
        return alg
    if not keys:
        hint = "; send an unsigned JWT (alg 'none')" if settings.allow_unsigned else ""
        raise _invalid(
            f"the JWT is signed ({shown(alg)}) but no verification keys are configured{hint}"
        )
    kid = header.get("kid")
    if kid is not None and not isinstance(kid, str):
        raise _invalid("the JWT header 'kid' must be a string")
    candidates = keys.candidates(alg, kid)
    if not candidates:
        which = f" and kid {shown(kid)}" if kid is not None else ""
        raise _invalid(f"no verification key is configured for alg {shown(alg)}{which}")
    for key in candidates:
        if _verifies(token, key):
            return alg
    raise _invalid(f"the JWT signature ({shown(alg)}) does not verify against the configured keys")


def _verifies(token: str, key: VerificationKey) -> bool:
    try:
        _JWS.decode(token, key.material, algorithms=[key.algorithm])
    except PyJWTError:
        return False
    return True
