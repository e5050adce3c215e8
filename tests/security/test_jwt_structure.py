"""verify_bearer: the Authorization header and the JWT's compact form."""

from __future__ import annotations

import base64
import json

import pytest

from gateway.config import JwtSettings
from gateway.errors import ErrorKind
from gateway.security import mint_token
from tests.security.helpers import APPT_WRITE, AUDIENCE, NOW, payload, rejection, unsigned, verify


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


NONE_HEADER = _b64(b'{"alg":"none","typ":"JWT"}')


def test_no_header_is_invalid_not_malformed() -> None:
    """No Authorization header at all is 403 (JWT_INVALID) with a bare Bearer challenge."""
    exc = rejection(None, ErrorKind.JWT_INVALID)
    assert exc.headers["WWW-Authenticate"] == "Bearer"
    assert "no Authorization header" in exc.diagnostics


def test_blank_header_is_treated_as_absent() -> None:
    """An empty Authorization header counts as no credentials."""
    rejection("   ", ErrorKind.JWT_INVALID, bearer=False)


@pytest.mark.parametrize(
    ("header", "says"),
    [
        ("Basic dXNlcjpwYXNz", "'Bearer <JWT>'"),
        ("Bearer", "'Bearer <JWT>'"),
        ("Bearer a.b", "this one has 2"),
        ("Bearer a.b.c.d.e", "this one has 5"),
        (f"Bearer !!!.{NONE_HEADER}.", "header is not base64url"),
        (f"Bearer {NONE_HEADER}.a.", "payload is not base64url"),
        (f"Bearer {_b64(b'not json')}.{NONE_HEADER}.", "header is not JSON"),
        (f"Bearer {NONE_HEADER}.{_b64(b'[1, 2]')}.", "payload is not a JSON object"),
        (f"Bearer {_b64(b'{}')}.{_b64(b'{}')}.", "header has no 'alg'"),
        (f"Bearer {NONE_HEADER}.{_b64(b'{}')}.a+b", "signature part is not base64url"),
    ],
)
def test_undecodable_token_is_malformed(header: str, says: str) -> None:
    """A header or token that cannot be decoded is 400 (JWT_MALFORMED) saying why."""
    exc = rejection(header, ErrorKind.JWT_MALFORMED, bearer=False)
    assert says in exc.diagnostics
    assert 'error="invalid_request"' in exc.headers["WWW-Authenticate"]


def test_scheme_is_case_insensitive() -> None:
    """'bearer' in any case is accepted (RFC 7235 section 2.1)."""
    token = mint_token(scope=APPT_WRITE, audience=AUDIENCE, now=NOW)
    verify(f"bEARER {token}", bearer=False)


def test_unsigned_token_needs_empty_signature() -> None:
    """An alg 'none' token with a non-empty signature part is refused."""
    exc = rejection(unsigned(payload()) + "c2ln", ErrorKind.JWT_INVALID)
    assert "empty signature" in exc.diagnostics


def test_unsigned_rejected_when_not_allowed() -> None:
    """With allow_unsigned False an alg 'none' token is refused, saying so."""
    settings = JwtSettings(allow_unsigned=False)
    exc = rejection(unsigned(payload()), ErrorKind.JWT_INVALID, settings=settings)
    assert "alg 'none'" in exc.diagnostics and "not accepted" in exc.diagnostics


def test_hand_built_token_without_padding_issues_verifies() -> None:
    """A token encoded by hand (no library, sorted keys) is read the same way."""
    body = _b64(json.dumps(payload(), sort_keys=True).encode())
    verify(f"{NONE_HEADER}.{body}.")


def test_diagnostics_never_contain_the_token() -> None:
    """Neither the diagnostics nor the challenge echo the token."""
    token = unsigned(payload(aud="https://elsewhere.example"))
    exc = rejection(token, ErrorKind.JWT_INVALID)
    for text in (exc.diagnostics, exc.headers["WWW-Authenticate"]):
        assert token not in text
        assert token.split(".")[1] not in text


def test_challenge_quotes_are_escaped() -> None:
    """A hostile claim value cannot break out of the challenge's quoted string."""
    exc = rejection(unsigned(payload(aud='x", error="hacked\r\n')), ErrorKind.JWT_INVALID)
    challenge = exc.headers["WWW-Authenticate"]
    assert challenge.count('"') == 4
    assert "\r" not in challenge and "\n" not in challenge
