"""Fuzzing the FHIR door's JWT checks (fs_authentication.md) with signing required.

Each example starts from a conforming HS256 token for a slot search and breaks it at least
once: a claim set to a wrong value or type (a future ``nbf``, ``"nbf": "soon"``, an ``aud``
plus ``//``, an expired or 2,000-character claim...), a claim removed and the token
re-signed with the right key; then, maybe, the header changed (``alg`` confusion, odd
``kid``), the signature altered or dropped, or the token's shape broken. Invariants: every
answer is a 400 or 403 OperationOutcome, never a 5xx, never accepted; no NHS number put in
a claim reaches a log line.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import time
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from structlog.testing import capture_logs

from gateway.security import REQUIRED_CLAIMS, build_payload
from tests.api.conftest import (  # noqa: F401 (gateway is a fixture)
    READ_SLOTS,
    SERVICE_ID,
    SERVICE_ROOT_PATH,
    Consumer,
    Gateway,
    gateway,
)

SECRET = "fuzz-secret-of-forty-bytes-0123456789abc"
NHS = "9434765919"
#: Huge values stay below aiohttp's 8,190-byte header limit: a longer Authorization header is
#: refused by the HTTP parser before the JWT is read (issue 9 row 11, a separate fix).
JWT_YAML = (
    "  jwt:\n    allow_unsigned: false\n"
    "    keys:\n      - algorithm: HS256\n        secret_env: UEC_FUZZ_JWT_SECRET\n"
)
#: Values no claim accepts in place of a string or an object.
WRONG_TYPES: tuple[Any, ...] = (42, -1, 1.5, True, [], {}, [NHS], {"value": NHS}, "")
#: 10**30 is a valid JSON number that no NumericDate can be.
WRONG_TIMES: tuple[Any, ...] = ("soon", "1700000000", True, 1.5, 10**30, -(10**30), [], {})


@dataclass(frozen=True)
class Later:
    """A time ``seconds`` from the moment the token is made (so examples replay exactly)."""

    seconds: int


def _breaks(root: str) -> dict[str, st.SearchStrategy[Any]]:
    """For each claim, values that make the token wrong (each must be refused)."""
    text = st.sampled_from(WRONG_TYPES)
    return {
        "iss": text,
        "sub": text,
        "aud": st.sampled_from(
            (root + "//", root + "///", root + "/x", root[:-1], "https://evil.example", NHS, 5)
        ),
        "exp": st.one_of(
            st.sampled_from(WRONG_TIMES), st.sampled_from((Later(-3600), Later(86400)))
        ),
        "iat": st.one_of(st.sampled_from(WRONG_TIMES), st.just(Later(3600))),
        # A past nbf, however far, is right; only a future or non-integer one is wrong.
        "nbf": st.one_of(
            st.sampled_from([t for t in WRONG_TIMES if t != -(10**30)]),
            st.integers(120, 10**9).map(Later),
        ),
        "reason_for_request": st.sampled_from(("secondary", "DIRECTCARE", NHS, 1, None)),
        "requested_scope": st.sampled_from(("patient/appointment.write", "x" * 2000, "", 7)),
        "requesting_device": st.sampled_from(("CONS-APP", 1, [], {"resourceType": "Patient"})),
        "requesting_organization": st.sampled_from(
            ("A1001", 1, {"resourceType": "Device"}, {"identifier": "A1001"})
        ),
    }


@st.composite
def _payload(draw: st.DrawFn, root: str) -> dict[str, Any]:
    """A slot-search payload broken in 1-3 claims (changed or removed); times are ``Later``."""
    claims: dict[str, Any] = build_payload(scope=READ_SLOTS, audience=root, now=0)
    breaks = _breaks(root)
    for name in draw(st.lists(st.sampled_from(sorted(breaks)), min_size=1, max_size=3)):
        if name in REQUIRED_CLAIMS and draw(st.booleans()) and name != "nbf":
            claims.pop(name, None)
        else:
            claims[name] = draw(breaks[name])
    if draw(st.booleans()):
        claims["extra"] = draw(st.sampled_from(("y" * 2000, NHS, {"deep": [[[[NHS]]]]})))
    return claims


def _b64(value: bytes) -> str:
    return base64.urlsafe_b64encode(value).rstrip(b"=").decode()


def _header(alg: Any, **extra: Any) -> str:
    return _b64(json.dumps({"alg": alg, "typ": "JWT", **extra}).encode())


def _signed(claims: dict[str, Any]) -> str:
    """HS256 over any claims (PyJWT's encoder refuses some of the wrong values we want)."""
    signing_input = f"{_header('HS256')}.{_b64(json.dumps(claims).encode())}"
    mac = hmac.new(SECRET.encode(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(mac)}"


def _at(claims: dict[str, Any], now: int) -> dict[str, Any]:
    """The claims with build_payload's times (made at 0) and every ``Later`` put at ``now``."""
    timed = dict(claims)
    for name in ("exp", "iat", "nbf"):
        value = timed.get(name)
        if isinstance(value, Later):
            timed[name] = now + value.seconds
        elif name in ("exp", "iat") and type(value) is int and abs(value) <= 10**6:
            timed[name] = now + value
    return timed


@st.composite
def _token(draw: st.DrawFn, root: str, now: int) -> str:
    """A broken token: bad claims re-signed rightly, then maybe a bad header or signature."""
    head, body, signature = _signed(_at(draw(_payload(root)), now)).split(".")
    how = draw(st.sampled_from(("claims", "alg", "kid", "signature", "shape")))
    if how == "alg":
        alg = draw(st.sampled_from(("none", "None", "RS256", "HS512", "ES256", "", None, 5)))
        head = _header(alg)
        signature = draw(st.sampled_from((signature, "")))
    elif how == "kid":
        head = _header("HS256", kid=draw(st.sampled_from((NHS, 7, [], "../../etc/passwd"))))
    elif how == "signature":
        signature = draw(
            st.sampled_from(("", signature[::-1], "A" * len(signature), signature[:10], "@@"))
        )
    elif how == "shape":
        shaped = draw(
            st.sampled_from(
                (
                    f"{head}.{body}",
                    f"{head}.{body}.{signature}.x",
                    f"{head}..{signature}",
                    f"{head}.{body}!.{signature}",
                    f"{_b64(b'[1]')}.{body}.{signature}",
                    f"{_b64(b'not json')}.{body}.{signature}",
                )
            )
        )
        return shaped
    return f"{head}.{body}.{signature}"


def _headers(consumer: Consumer, authorization: str) -> dict[str, str]:
    headers = consumer.headers(READ_SLOTS, "read:slot")
    headers["Authorization"] = authorization
    return headers


@pytest.fixture
async def signing_gateway(gateway: Gateway, monkeypatch: pytest.MonkeyPatch) -> Consumer:  # noqa: F811 (the imported fixture)
    """A gateway that accepts only HS256 tokens signed with SECRET."""
    monkeypatch.setenv("UEC_FUZZ_JWT_SECRET", SECRET)
    return await gateway(jwt=JWT_YAML)


async def test_the_unbroken_token_is_accepted(signing_gateway: Consumer) -> None:
    """The seed every fuzzed token starts from is itself accepted (so refusals mean something)."""
    consumer = signing_gateway
    token = _signed(build_payload(scope=READ_SLOTS, audience=consumer.root))
    resp = await consumer.client.get(
        f"{SERVICE_ROOT_PATH}/Slot?service={SERVICE_ID}",
        headers=_headers(consumer, f"Bearer {token}"),
    )
    assert resp.status == 200


@given(data=st.data())
async def test_every_broken_token_is_a_400_or_403_operation_outcome(
    signing_gateway: Consumer, caplog: pytest.LogCaptureFixture, data: st.DataObject
) -> None:
    """Mutated claims, headers, signatures, alg confusion, huge values: 400/403, never accepted."""
    consumer = signing_gateway
    token = data.draw(_token(consumer.root, int(time.time())))
    scheme = data.draw(st.sampled_from(("Bearer ", "bearer ", "Bearer  ")))
    caplog.clear()
    caplog.set_level(logging.INFO)
    with capture_logs() as logs:
        resp = await consumer.client.get(
            f"{SERVICE_ROOT_PATH}/Slot?service={SERVICE_ID}",
            headers=_headers(consumer, scheme + token),
        )
        body = await resp.read()
    assert resp.status in (400, 403), (resp.status, body[:300])
    outcome = json.loads(body)
    assert outcome["resourceType"] == "OperationOutcome"
    assert outcome["issue"][0]["diagnostics"]
    assert "WWW-Authenticate" in resp.headers
    assert NHS not in repr(logs) + caplog.text, "an NHS number from a claim reached the logs"
