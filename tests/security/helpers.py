"""Shared values and a short-hand for calling verify_bearer in the security tests."""

from __future__ import annotations

from typing import Any

from gateway.config import JwtSettings
from gateway.errors import ApiError, ErrorKind
from gateway.security import Claims, Interaction, KeyRing, build_payload, encode_token
from gateway.security import verify_bearer as _verify_bearer

NOW = 1_700_000_000
AUDIENCE = "https://gateway.example.nhs.uk/STU3/1/careconnect/appointment"
SLOT_READ = "organization/slot.read"
APPT_READ = "patient/appointment.read"
APPT_WRITE = "patient/appointment.write"
HS_SECRET = "s3cret-for-tests-only-0123456789abcdef"


def payload(scope: str = APPT_WRITE, **changes: Any) -> dict[str, Any]:
    """A conforming payload issued at NOW, with top-level claims replaced by ``changes``."""
    claims = build_payload(scope=scope, audience=AUDIENCE, now=NOW)
    claims.update(changes)
    return claims


def verify(
    token: str | None,
    *,
    interaction: Interaction = Interaction.BOOK,
    settings: JwtSettings | None = None,
    now: float = NOW,
    keys: KeyRing | None = None,
    bearer: bool = True,
) -> Claims:
    """verify_bearer with the test audience and defaults; ``token`` None sends no header."""
    header = None if token is None else (f"Bearer {token}" if bearer else token)
    return _verify_bearer(
        header,
        interaction=interaction,
        settings=settings or JwtSettings(),
        audiences=(AUDIENCE,),
        now=now,
        keys=keys or KeyRing(),
    )


def unsigned(claims: dict[str, Any]) -> str:
    return encode_token(claims)


def rejection(token: str | None, kind: ErrorKind, **kwargs: Any) -> ApiError:
    """The ApiError verify raises for ``token``, after checking its kind."""
    try:
        verify(token, **kwargs)
    except ApiError as exc:
        assert exc.kind is kind, exc.diagnostics
        assert "WWW-Authenticate" in exc.headers
        return exc
    raise AssertionError("token was accepted")
