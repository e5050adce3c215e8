"""One BaRS request through the proxy, and the retries the spec allows.

Transactional-integrity/Sender-responsibilities and Definition-of-a-retry: a retry
is the same request (same body bytes, same X-Request-Id and X-Correlation-Id, only
the access token may change), sent again after a jittered exponential pause, inside
the call's deadline, only for the codes ``_errors.CODES`` marks ``retried`` and for
answers that are communication failures (no OperationOutcome and no mirrored ids,
or no answer at all). A 401 drops the token and resends once with a fresh one
(Security-and-Authorisation/Sender). A 409 is never resent.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import structlog

from adapters._resilience import RetryPolicy, pause
from adapters.bars._errors import Op, is_outcome, retry_after, rule_for
from adapters.bars._token import TokenSource
from adapters.bars_toolkit.headers import JSON_TYPE, Target, request_headers, transaction_ids
from adapters.domain import CallContext

log = structlog.get_logger(__name__)
MAX_BODY = 8_000_000


@dataclass(frozen=True, slots=True)
class Call:
    """One request: built once, so every retry sends exactly the same thing."""

    op: Op
    method: str
    path: str
    target: Target
    ctx: CallContext
    params: tuple[tuple[str, str], ...] = ()
    body: bytes | None = None
    #: Tells this request apart from the call's others (a cancel's read and its write).
    step: str = ""

    @property
    def ids(self) -> tuple[str, str]:
        return transaction_ids(self.ctx.request_id, self.op.value, self.step)


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    headers: Mapping[str, str]
    body: Any
    #: Whether the answer mirrored our X-Request-Id (Sender-responsibilities: else suspect).
    mirrored: bool = True

    def header(self, name: str) -> str | None:
        return self.headers.get(name)


class AnswerLost(Exception):
    """No answer at all came back to the last send (``sent``: it may have arrived)."""

    def __init__(self, sent: bool, cause: str) -> None:
        super().__init__(cause)
        self.sent = sent


@dataclass
class Wire:
    session: aiohttp.ClientSession
    proxy_url: str
    tokens: TokenSource
    attempts: int
    backoff_s: float
    adapter: str
    #: Fills in the caller's identity where the context leaves it out.
    identity: Any = None
    sent: list[str] = field(default_factory=list)

    async def send(self, call: Call) -> Reply:
        """The answer to ``call``, after the retries the spec allows; ``AnswerLost`` if none."""
        refreshed = False
        last: Reply | AnswerLost | None = None
        attempt = 0
        while attempt < self.attempts:
            attempt += 1
            token = await self.tokens.token()
            try:
                reply = await self._once(call, token)
            except AnswerLost as lost:
                last = lost
            else:
                if reply.status == 401 and not refreshed:
                    # The token may have been revoked or expired early: one fresh try.
                    self.tokens.forget(token)
                    refreshed, attempt = True, attempt - 1
                    continue
                if not _worth_retrying(reply):
                    return reply
                if reply.status == 403:
                    self.tokens.forget(token)
                last = reply
            if attempt < self.attempts and not await self._pause(call, attempt, last):
                break
            log.info(
                "bars_request_retried",
                adapter=self.adapter,
                operation=call.op.value,
                attempt=attempt + 1,
                x_request_id=call.ids[0],
                status=last.status if isinstance(last, Reply) else None,
            )
        if isinstance(last, Reply):
            return last
        assert last is not None
        raise last

    async def _pause(self, call: Call, attempt: int, last: Reply | AnswerLost | None) -> bool:
        """Sleep before the next attempt; False when the deadline leaves no room for one."""
        asked = retry_after(last.headers) if isinstance(last, Reply) else None
        policy = RetryPolicy(attempts=self.attempts, backoff_s=self.backoff_s, max_backoff_s=30.0)
        return await pause(policy, attempt, call.ctx.remaining(), at_least=asked or 0.0)

    def headers(self, call: Call, token: str) -> dict[str, str]:
        request_id, correlation_id = call.ids
        ctx = self.identity(call.ctx) if self.identity is not None else call.ctx
        out = request_headers(
            call.target,
            ctx,
            content_type=JSON_TYPE if call.body is not None else None,
            request_id=request_id,
            correlation_id=correlation_id,
        )
        out["Authorization"] = f"Bearer {token}"
        return out

    async def _once(self, call: Call, token: str) -> Reply:
        url = self.proxy_url + call.path
        headers = self.headers(call, token)
        self.sent.append(headers["X-Request-Id"])
        try:
            async with self.session.request(
                call.method,
                url,
                params=list(call.params),
                data=call.body,
                headers=headers,
                allow_redirects=False,
            ) as resp:
                raw = await _read_bounded(resp)
                status, got = resp.status, dict(resp.headers)
        except aiohttp.ClientConnectorError as exc:
            raise AnswerLost(False, type(exc).__name__) from exc
        except (aiohttp.ClientError, OSError) as exc:
            raise AnswerLost(True, type(exc).__name__) from exc
        body: Any = None
        if raw and len(raw) <= MAX_BODY:
            try:
                body = json.loads(raw)
            except ValueError:
                body = None
        mirrored = got.get("X-Request-Id", got.get("X-Request-ID")) == headers["X-Request-Id"]
        return Reply(status, _ci(got), body, mirrored)


async def _read_bounded(resp: aiohttp.ClientResponse) -> bytes:
    """The whole body, or b"" past ``MAX_BODY`` (refused before parsing)."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in resp.content.iter_chunked(65_536):
        size += len(chunk)
        if size > MAX_BODY:
            return b""
        chunks.append(chunk)
    return b"".join(chunks)


def _ci(headers: dict[str, str]) -> dict[str, str]:
    """Headers under their canonical spellings as well (receivers differ in case)."""
    out = dict(headers)
    lowered = {k.lower(): v for k, v in headers.items()}
    for name in (
        "X-Request-Id",
        "X-Correlation-Id",
        "Content-Location",
        "Location",
        "ETag",
        "Retry-After",
    ):
        if name.lower() in lowered:
            out[name] = lowered[name.lower()]
    return out


def _worth_retrying(reply: Reply) -> bool:
    """Sender-responsibilities: the retried codes; and any failure that is not a real
    answer (no OperationOutcome and no mirrored ids: an intermediary, a lost answer)."""
    if reply.status < 400:
        return False
    if reply.status == 409:
        return False
    if not is_outcome(reply.body) and not reply.mirrored:
        return True
    rule = rule_for(reply.status, reply.body)
    return rule is not None and rule.retried
