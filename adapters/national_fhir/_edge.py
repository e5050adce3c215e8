"""The adapter's edge: deadlines, and every foreign failure turned into a typed error.

House style (httpx): lower-level exceptions never escape an adapter; each is
translated here, with the original kept as the cause. HTTP answers are
translated by the table in ``_outcomes``; this module handles what happens
around them (time, connections, unreadable bodies, directory lookups).
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Generic, TypeVar

import aiohttp
import structlog

from adapters import errors
from adapters.domain import CallContext
from adapters.national_fhir._fhir import Unreadable
from adapters.national_fhir._sds import SdsError
from adapters.national_fhir._wire import ConnectionLost

log = structlog.get_logger(__name__)
K = TypeVar("K")
V = TypeVar("V")


class EndpointNotFound(errors.SupplierUnavailable):
    """No FHIR endpoint could be found for the service (er_overview.md, Consumer -> SDS)."""

    transient = False


@dataclass(slots=True)
class Attempt:
    """What one adapter call has done so far; decides how a timeout is reported."""

    operation: str
    #: A POST or PUT may have reached the provider: its outcome is unknown on failure.
    write_sent: bool = False


def _translate(attempt: Attempt, exc: BaseException) -> errors.AdapterError:
    op = attempt.operation
    if isinstance(exc, TimeoutError):
        if attempt.write_sent:
            # fs_xti.md: resending with the same X-Request-ID is safe, and finds out.
            return errors.OutcomeUnknown(f"{op}: the deadline passed awaiting the provider")
        return errors.SupplierTimeout(f"{op}: the deadline passed")
    if isinstance(exc, ConnectionLost):
        if exc.sent and attempt.write_sent:
            return errors.OutcomeUnknown(f"{op}: the connection was lost awaiting the answer")
        return errors.SupplierUnavailable(f"{op}: the SSP could not be reached")
    if isinstance(exc, Unreadable):
        # The message names the element, never its content.
        return errors.SupplierProtocolError(f"{op}: {exc}", supplier_detail="unreadable resource")
    if isinstance(exc, SdsError):
        return EndpointNotFound(f"{op}: no endpoint for the service", supplier_detail=str(exc))
    if isinstance(exc, aiohttp.ClientError | OSError):
        return errors.SupplierUnavailable(
            f"{op}: the SSP failed", supplier_detail=type(exc).__name__
        )
    return errors.SupplierUnavailable(
        f"{op}: failed unexpectedly", supplier_detail=type(exc).__name__
    )


@asynccontextmanager
async def guarded(
    operation: str, ctx: CallContext | None, *, default_timeout: float, adapter: str
) -> AsyncIterator[Attempt]:
    """Run one call within ``ctx``'s deadline (else ``default_timeout``), translating errors."""
    if ctx is not None and ctx.expired():
        raise errors.SupplierTimeout(f"{operation}: the deadline passed before the call started")
    remaining = ctx.remaining() if ctx is not None else None
    attempt = Attempt(operation)
    try:
        async with asyncio.timeout(default_timeout if remaining is None else remaining):
            yield attempt
    except errors.AdapterError:
        raise
    except Exception as exc:
        error = _translate(attempt, exc)
        log.warning(
            "provider_call_failed",
            adapter=adapter,
            operation=operation,
            error_type=type(exc).__name__,
            typed=type(error).__name__,
        )
        raise error from exc


class Lru(Generic[K, V]):
    """A bounded memory: the oldest entries are forgotten first."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._items: OrderedDict[K, V] = OrderedDict()

    def put(self, key: K, value: V) -> None:
        self._items[key] = value
        self._items.move_to_end(key)
        while len(self._items) > self._limit:
            self._items.popitem(last=False)

    def get(self, key: K) -> V | None:
        return self._items.get(key)
