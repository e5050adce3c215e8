"""The token endpoint: client credentials with a signed-JWT assertion (Security-and-
Authorisation/Sender; the signed-JWT pattern it links), answered in NHS APIM's shape."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest

from tests.bars_proxy.conftest import Proxy, private_key


async def _refused(proxy: Proxy, assertion: str, status: int, error: str, words: str) -> None:
    resp = await proxy.ask_token(assertion)
    body: dict[str, Any] = await resp.json()
    assert (resp.status, body["error"]) == (status, error), body
    assert words in body["error_description"]


async def test_a_correctly_signed_assertion_gets_a_bearer_token(proxy: Proxy) -> None:
    """200 with access_token, expires_in "599", token_type Bearer and issued_at in ms."""
    before = int(time.time() * 1000)
    resp = await proxy.ask_token()
    assert resp.status == 200
    body = await resp.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == "599"
    assert body["access_token"]
    assert before - 1000 <= int(body["issued_at"]) <= int(time.time() * 1000) + 1000
    assert resp.headers["Cache-Control"] == "no-store"


async def test_the_token_lifetime_is_configurable(start_proxy: Any) -> None:
    """--token-lifetime-s sets expires_in."""
    proxy = await start_proxy(token_lifetime_s=60)
    body = await (await proxy.ask_token()).json()
    assert body["expires_in"] == "60"


async def test_an_unknown_kid_is_an_invalid_client(proxy: Proxy) -> None:
    """A kid the client never registered: 401 invalid_client."""
    assertion = proxy.assertion(headers={"kid": "not-registered"})
    await _refused(proxy, assertion, 401, "invalid_client", "'kid'")


async def test_a_missing_kid_is_an_invalid_request(proxy: Proxy) -> None:
    """No kid header: 400 invalid_request."""
    await _refused(proxy, proxy.assertion(headers={"kid": None}), 400, "invalid_request", "'kid'")


async def test_a_wrong_audience_is_an_invalid_client(proxy: Proxy) -> None:
    """aud must be the token URL exactly; a different one: 401 invalid_client."""
    assertion = proxy.assertion(aud=proxy.settings.token_url + "/")
    await _refused(proxy, assertion, 401, "invalid_client", "'aud'")


async def test_an_expired_assertion_is_refused(proxy: Proxy) -> None:
    """exp in the past: 400 invalid_request, "JWT has expired"."""
    assertion = proxy.assertion(exp=int(time.time()) - 5)
    await _refused(proxy, assertion, 400, "invalid_request", "expired")


async def test_an_exp_more_than_five_minutes_ahead_is_refused(proxy: Proxy) -> None:
    """exp more than 5 minutes after now: 400 invalid_request."""
    assertion = proxy.assertion(exp=int(time.time()) + 330)
    await _refused(proxy, assertion, 400, "invalid_request", "more than 5 minutes")


async def test_a_reused_jti_is_refused(proxy: Proxy) -> None:
    """The same jti twice: the second is 400 invalid_request "Non-unique 'jti'"."""
    jti = str(uuid.uuid4())
    first = await proxy.ask_token(proxy.assertion(jti=jti))
    assert first.status == 200
    await _refused(proxy, proxy.assertion(jti=jti), 400, "invalid_request", "Non-unique 'jti'")


async def test_a_signature_by_another_key_is_refused(proxy: Proxy) -> None:
    """Signed with a key that is not the registered one: 401 invalid_client."""
    assertion = proxy.assertion(key=private_key())
    await _refused(proxy, assertion, 401, "invalid_client", "signature")


async def test_an_unknown_client_is_refused(proxy: Proxy) -> None:
    """iss/sub naming no registered application: 401 invalid_client."""
    assertion = proxy.assertion(iss="someone-else", sub="someone-else")
    await _refused(proxy, assertion, 401, "invalid_client", "'iss'/'sub'")


@pytest.mark.parametrize(
    ("claims", "words"),
    [
        ({"sub": "different"}, "'iss'/'sub'"),
        ({"jti": None}, "'jti'"),
        ({"exp": None}, "'exp'"),
    ],
)
async def test_missing_or_mismatched_claims_are_invalid_requests(
    proxy: Proxy, claims: dict[str, Any], words: str
) -> None:
    """iss != sub, no jti, no exp: 400 invalid_request naming the claim."""
    await _refused(proxy, proxy.assertion(**claims), 400, "invalid_request", words)


async def test_another_algorithm_is_refused(proxy: Proxy) -> None:
    """RS256 instead of RS512: 400 invalid_request naming 'alg'."""
    assertion = proxy.assertion(headers={"alg": "RS256"})
    await _refused(proxy, assertion, 400, "invalid_request", "RS512")


@pytest.mark.parametrize(
    ("form", "status", "error"),
    [
        ({"grant_type": ""}, 400, "invalid_request"),
        ({"grant_type": "authorization_code"}, 400, "unsupported_grant_type"),
        ({"client_assertion_type": "other"}, 400, "invalid_request"),
    ],
)
async def test_a_wrong_form_is_refused(
    proxy: Proxy, form: dict[str, str], status: int, error: str
) -> None:
    """Missing or wrong grant_type or client_assertion_type: 400 with the OAuth error."""
    resp = await proxy.ask_token(None, **form)
    assert (resp.status, (await resp.json())["error"]) == (status, error)


async def test_garbage_is_a_malformed_jwt(proxy: Proxy) -> None:
    """A client_assertion that is no JWT: 400 invalid_request, never a stack trace."""
    await _refused(proxy, "not.a.jwt", 400, "invalid_request", "Malformed JWT")
