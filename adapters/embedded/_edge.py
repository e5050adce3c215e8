"""The adapter's edge: deadlines, one lock, and foreign errors translated by a table.

House style (httpx): lower-level exceptions never escape an adapter; each is
turned into a typed ``AdapterError`` here, with the original kept as the cause.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import asyncpg
import structlog
from pydantic import ValidationError

from adapters.domain import CallContext
from adapters.errors import (
    AdapterError,
    BookingRejected,
    OutcomeUnknown,
    SupplierProtocolError,
    SupplierTimeout,
    SupplierUnavailable,
)

log = structlog.get_logger(__name__)

_UNSTORABLE = "the request holds text that cannot be stored"

#: Foreign exception -> typed error, first match wins. Order matters: ValidationError
#: and UnicodeError are ValueErrors.
_TABLE: tuple[tuple[type[BaseException], type[AdapterError], str], ...] = (
    (ValidationError, SupplierProtocolError, "a stored record could not be read"),
    (sqlite3.Error, SupplierUnavailable, "the diary database failed"),
    # Text PostgreSQL refuses to store (a NUL character): the caller's fault, not the diary's.
    (asyncpg.CharacterNotInRepertoireError, BookingRejected, _UNSTORABLE),
    (asyncpg.UntranslatableCharacterError, BookingRejected, _UNSTORABLE),
    # A parameter the driver cannot encode (a lone surrogate), or any other data exception.
    (asyncpg.DataError, BookingRejected, _UNSTORABLE),
    (asyncpg.PostgresError, SupplierUnavailable, "the diary database failed"),
    (asyncpg.InterfaceError, SupplierUnavailable, "the diary database connection failed"),
    (OSError, SupplierUnavailable, "the diary database could not be used"),
    # Only a booking stores caller text (ids are checked by ``storable`` first).
    (UnicodeError, BookingRejected, _UNSTORABLE),
    (ValueError, SupplierUnavailable, "the diary database is not open"),
    (Exception, SupplierUnavailable, "the diary failed unexpectedly"),
)


@dataclass(slots=True)
class Call:
    """What one call has done so far; decides how a timeout is reported."""

    operation: str
    commit_sent: bool = False

    def committing(self) -> None:
        """From now on the call's commit may land, whatever we hear back."""
        self.commit_sent = True


def shown(text: str, limit: int = 64) -> str:
    """A caller's id as quoted in an error message: bounded, so garbage stays small."""
    return repr(text) if len(text) <= limit else f"{text[:limit]!r}... ({len(text)} chars)"


def storable(text: str) -> bool:
    """Whether ``text`` can be stored or looked up at all (lone surrogates and NUL cannot)."""
    try:
        text.encode("utf-8")
    except UnicodeError:
        return False
    return "\x00" not in text


def translate(operation: str, exc: BaseException) -> AdapterError:
    """The typed error for a foreign one, by the table above."""
    typed, message = next(
        ((typed, message) for foreign, typed, message in _TABLE if isinstance(exc, foreign)),
        (SupplierUnavailable, "the diary failed unexpectedly"),
    )
    # Only database and file errors keep their text for the log: a validation or
    # encoding error may quote the patient record it choked on, and so may asyncpg's
    # DataError ("invalid input for query argument $8: '...'").
    safe = isinstance(exc, sqlite3.Error | asyncpg.PostgresError | OSError) and not isinstance(
        exc, asyncpg.DataError
    )
    detail = f"{type(exc).__name__}: {exc}" if safe else type(exc).__name__
    return typed(f"{operation}: {message}", supplier_detail=detail)


@asynccontextmanager
async def guarded(
    operation: str,
    ctx: CallContext | None,
    lock: asyncio.Lock | asyncio.Semaphore,
    adapter: str,
) -> AsyncIterator[Call]:
    """Run one call under the adapter lock, within ``ctx``'s deadline, translating errors."""
    if ctx is not None and ctx.expired():
        raise SupplierTimeout(f"{operation}: the deadline passed before the call started")
    call = Call(operation)
    try:
        async with asyncio.timeout(ctx.remaining() if ctx else None), lock:
            yield call
    except AdapterError:
        raise
    except TimeoutError as exc:
        log.warning("supplier_call_timed_out", adapter=adapter, operation=operation)
        if call.commit_sent:
            # The commit may have landed; a retry under the same request id is safe.
            raise OutcomeUnknown(f"{operation}: the deadline passed while committing") from exc
        raise SupplierTimeout(f"{operation}: the deadline passed") from exc
    except Exception as exc:
        error = translate(operation, exc)
        log.error(
            "supplier_call_failed",
            adapter=adapter,
            operation=operation,
            error_type=type(exc).__name__,
        )
        raise error from exc
