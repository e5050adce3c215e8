"""HTTP plumbing shared by the adapters that reach a supplier over HTTP (REST and SOAP).

One narrow seam (httpx style): ``send`` takes an ``Outgoing`` request and gives
back a ``Reply`` (status, headers, bounded body bytes), or raises a typed
``AdapterError``. Everything aiohttp can throw is translated here, by a table,
so no transport exception escapes an adapter.

Pauses follow the one shared policy (``adapters/_resilience.py``). Retries are
decided by the caller, who knows whether a resend is safe: a
request that never left (connection refused) is always safe to resend; a
request that may have reached the supplier only when the caller says so
(a GET, or a booking carrying its idempotency key).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import aiohttp
import structlog
from pydantic import ValidationError

from adapters import journaling
from adapters._resilience import RetryPolicy, pause
from adapters.domain import CallContext
from adapters.errors import (
    AdapterError,
    OutcomeUnknown,
    SupplierProtocolError,
    SupplierTimeout,
    SupplierUnavailable,
)
from adapters.journaling import FAILED, REJECTED, SENT, Sent

log = structlog.get_logger(__name__)

#: Statuses that mean "the supplier is unwell", worth a resend when a resend is safe.
TRANSIENT_STATUSES = frozenset({502, 503, 504})


@dataclass(frozen=True, slots=True)
class Outgoing:
    method: str
    url: str
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes | None = None
    #: Whether resending after the supplier may have seen it is harmless.
    resendable: bool = False


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    headers: Mapping[str, str]
    body: bytes

    @property
    def content_type(self) -> str:
        return self.headers.get("Content-Type", "").partition(";")[0].strip().lower()


@dataclass(frozen=True, slots=True)
class Policy:
    """How long one attempt may take, how many attempts, and the pause between them."""

    attempt_timeout_s: float = 5.0
    connect_timeout_s: float = 2.0
    attempts: int = 3
    backoff_s: float = 0.1
    max_body_bytes: int = 2_000_000

    @property
    def retry(self) -> RetryPolicy:
        """The shared retry policy (adapters/_resilience.py) these options describe."""
        return RetryPolicy(attempts=self.attempts, backoff_s=self.backoff_s)


class _TooLarge(Exception):
    pass


#: Foreign exception -> (typed error, message). First match wins; order matters
#: (ClientConnectorError is an OSError-ish ClientError; payload errors are ClientErrors).
_TABLE: tuple[tuple[type[BaseException], type[AdapterError], str], ...] = (
    (aiohttp.ClientConnectorError, SupplierUnavailable, "the supplier could not be reached"),
    (aiohttp.ServerDisconnectedError, SupplierUnavailable, "the supplier hung up"),
    (aiohttp.ClientPayloadError, SupplierProtocolError, "the supplier's answer was cut short"),
    (aiohttp.ClientResponseError, SupplierProtocolError, "the supplier's answer was malformed"),
    (_TooLarge, SupplierProtocolError, "the supplier's answer was too large"),
    (aiohttp.ClientError, SupplierUnavailable, "the supplier connection failed"),
    (OSError, SupplierUnavailable, "the supplier connection failed"),
    (ValueError, SupplierProtocolError, "the request or answer could not be encoded"),
)


def never_sent(exc: BaseException) -> bool:
    """True when the request cannot have reached the supplier (so a resend is safe)."""
    return isinstance(exc, aiohttp.ClientConnectorError)


def translate(operation: str, exc: BaseException) -> AdapterError:
    """The typed error for a transport failure; the cause's text is kept for the log only."""
    typed, message = next(
        ((t, m) for foreign, t, m in _TABLE if isinstance(exc, foreign)),
        (SupplierUnavailable, "the supplier call failed unexpectedly"),
    )
    return typed(f"{operation}: {message}", supplier_detail=type(exc).__name__)


def open_session(policy: Policy) -> aiohttp.ClientSession:
    """The one client session an adapter instance keeps (closed by its ``close``)."""
    connector = aiohttp.TCPConnector(limit=32, ttl_dns_cache=300)
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=policy.connect_timeout_s)
    # raise_for_status off: statuses are the caller's to translate, with the body.
    return aiohttp.ClientSession(connector=connector, timeout=timeout, raise_for_status=False)


def budget(ctx: CallContext, policy: Policy, operation: str) -> float:
    """Seconds the next attempt may take: the per-attempt limit, capped by the deadline."""
    remaining = ctx.remaining()
    if remaining is not None and remaining <= 0:
        raise SupplierTimeout(f"{operation}: the deadline passed before the call was sent")
    return (
        policy.attempt_timeout_s if remaining is None else min(remaining, policy.attempt_timeout_s)
    )


async def send_once(
    session: aiohttp.ClientSession, out: Outgoing, timeout_s: float, max_body: int
) -> Reply:
    """One attempt: send, read at most ``max_body`` bytes, all within ``timeout_s``."""
    async with (
        asyncio.timeout(timeout_s),
        session.request(
            out.method, out.url, headers=dict(out.headers), data=out.body, allow_redirects=False
        ) as resp,
    ):
        declared = resp.content_length
        if declared is not None and declared > max_body:
            raise _TooLarge(declared)
        chunks: list[bytes] = []
        size = 0
        async for chunk in resp.content.iter_chunked(65_536):
            size += len(chunk)
            if size > max_body:
                raise _TooLarge(size)
            chunks.append(chunk)
        return Reply(resp.status, dict(resp.headers), b"".join(chunks))


async def send(
    session: aiohttp.ClientSession,
    out: Outgoing,
    ctx: CallContext,
    policy: Policy,
    *,
    operation: str,
    adapter: str,
) -> Reply:
    """Send ``out`` within ``ctx``'s deadline, resending only where that is safe.

    A 502/503/504 reply is returned as is once attempts are spent (the caller
    translates it with the supplier's error body).
    """
    attempt = 0
    while True:
        attempt += 1
        timeout_s = budget(ctx, policy, operation)
        try:
            reply = await send_once(session, out, timeout_s, policy.max_body_bytes)
        except (TimeoutError, aiohttp.ClientError, OSError, ValueError, _TooLarge) as exc:
            if _may_resend(out, exc) and await pause(policy.retry, attempt, ctx.remaining()):
                _resent(adapter, operation, attempt, error_type=type(exc).__name__)
                continue
            _journal(adapter, operation, out, ctx, FAILED, type(exc).__name__)
            raise _failure(out, exc, operation, adapter, ctx) from exc
        if (
            reply.status in TRANSIENT_STATUSES
            and out.resendable
            and await pause(policy.retry, attempt, ctx.remaining())
        ):
            _resent(adapter, operation, attempt, status=reply.status)
            continue
        answered = SENT if reply.status < 400 else REJECTED
        _journal(adapter, operation, out, ctx, answered, str(reply.status))
        return reply


def _journal(
    adapter: str, operation: str, out: Outgoing, ctx: CallContext, outcome: str, code: str
) -> None:
    """The request as sent, once its fate is known (adapters/journaling.py)."""
    parts = urlsplit(out.url)
    target = f"{parts.hostname or ''}:{parts.port or ''}".rstrip(":")
    message = Sent("http", operation, target, ctx.request_id, out.body or b"", outcome, code)
    journaling.sent(adapter, message)


def _may_resend(out: Outgoing, exc: BaseException) -> bool:
    if isinstance(exc, _TooLarge | ValueError):
        return False  # the same answer would come back
    return out.resendable or never_sent(exc)


def _resent(adapter: str, operation: str, attempt: int, **why: object) -> None:
    log.info(
        "supplier_request_resent", adapter=adapter, operation=operation, attempt=attempt, **why
    )


def _failure(
    out: Outgoing, exc: BaseException, operation: str, adapter: str, ctx: CallContext
) -> AdapterError:
    if isinstance(exc, TimeoutError):
        log.warning("supplier_call_timed_out", adapter=adapter, operation=operation)
        if not out.resendable:
            # The supplier may have acted; only a read of its state can tell.
            return OutcomeUnknown(f"{operation}: no answer in time; the outcome is unknown")
        return SupplierTimeout(f"{operation}: the supplier did not answer in time")
    error = translate(operation, exc)
    if not out.resendable and not never_sent(exc) and isinstance(error, SupplierUnavailable):
        # Sent, then the connection broke: the supplier may have acted.
        error = OutcomeUnknown(
            f"{operation}: the connection broke after sending; the outcome is unknown",
            supplier_detail=error.supplier_detail,
        )
    log.warning(
        "supplier_call_failed",
        adapter=adapter,
        operation=operation,
        error_type=type(exc).__name__,
        typed=type(error).__name__,
        request_id=ctx.request_id,
    )
    return error


@asynccontextmanager
async def guard(
    operation: str,
    ctx: CallContext,
    *,
    closed: bool,
    adapter: str,
    extra: Callable[[str, ValueError], AdapterError] | None = None,
) -> AsyncIterator[None]:
    """One supplier call: closed and deadline checks, anything foreign made typed.

    ``extra`` may translate a plain ``ValueError`` of the adapter's own (not a
    validation error of the supplier's answer) into a typed error.
    """
    if closed:
        raise SupplierUnavailable(f"{operation}: the adapter is closed")
    if ctx.expired():
        raise SupplierTimeout(f"{operation}: the deadline passed before the call")
    try:
        async with asyncio.timeout(ctx.remaining()):
            yield
    except AdapterError:
        raise
    except TimeoutError as exc:
        log.warning("supplier_call_timed_out", adapter=adapter, operation=operation)
        raise SupplierTimeout(f"{operation}: the deadline passed") from exc
    except ValidationError as exc:
        # Field locations only: a validation message quotes the input (it may be a patient).
        where = sorted({".".join(str(p) for p in e["loc"]) for e in exc.errors()})[:5]
        log.error("supplier_answer_invalid", adapter=adapter, operation=operation, fields=where)
        raise SupplierProtocolError(
            f"{operation}: the supplier's answer did not match its interface",
            supplier_detail=f"invalid fields: {', '.join(where)}",
        ) from None
    except ValueError as exc:
        if extra is None:
            log.error(
                "supplier_call_failed",
                adapter=adapter,
                operation=operation,
                error_type=type(exc).__name__,
            )
            raise translate(operation, exc) from exc
        raise extra(operation, exc) from exc
    except Exception as exc:
        log.error(
            "supplier_call_failed",
            adapter=adapter,
            operation=operation,
            error_type=type(exc).__name__,
        )
        raise translate(operation, exc) from exc
