"""What the proxy checks before it routes: the token, the transaction ids, the target.

Error-Handling/Failure-Scenarios-1-1-x/Message-Routing, "SEND at the API" and
"PROXY/NONE within the BaRS proxy":
- no access token: 401 SEND_UNAUTHORIZED (issue ``unknown``); an invalid one: 401
  SEND_UNAUTHORIZED (``security``); an expired one: 403 SEND_FORBIDDEN, "Missing or
  Expired Token" (api/booking-and-referral.yaml error table), which a sender may
  retry with a new token (Transactional-integrity/Sender-responsibilities);
- X-Request-Id or X-Correlation-Id missing: 400 SEND_BAD_REQUEST ``required``; not a
  GUID: 400 PROXY_BAD_REQUEST ``invalid``;
- NHSD-Target-Identifier missing: 400 SEND_BAD_REQUEST ``required``; not Base64: 400
  PROXY_BAD_REQUEST ``invalid`` (api/examples/invalid-base64.json); not the
  ``{"system", "value"}`` schema: 400 PROXY_BAD_REQUEST ``structure``
  (api/examples/malformed-target-identifier.json).
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Callable, Mapping

from adapters.bars_toolkit.headers import Target
from gateway.bars_proxy import outcome
from gateway.bars_proxy.outcome import ProxyError
from gateway.bars_proxy.tokens import Issued, TokenIssuer

TARGET_HEADER = "NHSD-Target-Identifier"


def authorise(
    headers: Mapping[str, str], issuer: TokenIssuer, clock: Callable[[], float]
) -> Issued:
    raw = headers.get("Authorization", "").strip()
    if not raw:
        error = outcome.unauthorized("No access token was provided.")
        error.issue = "unknown"
        raise error
    scheme, _, token = raw.partition(" ")
    grant = issuer.check(token.strip()) if scheme.lower() == "bearer" else None
    if grant is None:
        raise outcome.unauthorized("The access token is invalid.")
    if grant.expires_at <= clock():
        raise ProxyError(
            403,
            "SEND_FORBIDDEN",
            "Missing or Expired Token: the access token has expired; request a new one.",
            issue="expired",
        )
    return grant


def transaction_ids(headers: Mapping[str, str]) -> tuple[str, str]:
    found = []
    for name in outcome.ID_HEADERS:
        value = headers.get(name, "").strip()
        if not value:
            raise outcome.bad_request(f"The {name} header is required.")
        try:
            uuid.UUID(value)
        except ValueError:
            raise outcome.proxy_bad_request(
                f"The {name} header must be a GUID.", "invalid"
            ) from None
        found.append(value)
    return found[0], found[1]


def target(headers: Mapping[str, str]) -> Target:
    raw = headers.get(TARGET_HEADER, "").strip()
    if not raw:
        raise outcome.bad_request(f"The {TARGET_HEADER} header is required.")
    try:
        decoded = base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        raise outcome.proxy_bad_request(
            f"The base64 decoding of the {TARGET_HEADER} header failed.", "invalid"
        ) from None
    try:
        data = json.loads(decoded)
    except (ValueError, RecursionError):
        data = None
    system = data.get("system") if isinstance(data, dict) else None
    value = data.get("value") if isinstance(data, dict) else None
    if not isinstance(system, str) or not isinstance(value, str) or not system or not value:
        raise outcome.proxy_bad_request(f"Invalid schema for {TARGET_HEADER} header", "structure")
    return Target(system, value)
