"""structlog set-up: JSON in production, one summary line per request, no patient data.

Code logs ids and hashes only. ``redact_patient_data`` is the backstop: any
value under a patient-ish key is dropped, any NHS number (ten digits with a
valid check digit, spaced or not) inside any string is masked, and so is
anything shaped like a bearer token or JWT.

aiohttp logs through the standard library (``aiohttp.server``, ``aiohttp.access``,
``aiohttp.web``, ...), with request lines and header text in its messages. Its
records are masked the same way where they are made (a filter on each of those
loggers, so every handler sees only masked text) and, once ``configure`` has
run, written by the same renderer as ours: one JSON line each in JSON mode.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Mapping, MutableMapping
from typing import Any

import structlog

from adapters.nhs import is_valid_nhs_number

REDACTED = "[redacted]"
SENSITIVE_KEYS = frozenset(
    {
        "patient",
        "name",
        "family",
        "given",
        "prefix",
        "birth_date",
        "birthdate",
        "dob",
        "address",
        "postcode",
        "telecom",
        "phone",
        "nhs_number",
        "body",
        "payload",
    }
)
_NHS_LIKE = re.compile(r"(?<!\d)(\d{3})[ -]?(\d{3})[ -]?(\d{4})(?!\d)")
#: A bearer credential, or a JWT's base64url JSON header ("eyJ...") wherever it appears.
_TOKEN_LIKE = re.compile(r"(?i:bearer)\s+\S+|eyJ[A-Za-z0-9_\-]*(?:\.[A-Za-z0-9_\-]*){0,2}")
#: The standard-library loggers aiohttp writes to (aiohttp/log.py).
AIOHTTP_LOGGERS = (
    "aiohttp.access",
    "aiohttp.client",
    "aiohttp.internal",
    "aiohttp.server",
    "aiohttp.web",
    "aiohttp.websocket",
)


def _mask(text: str) -> str:
    def replace(match: re.Match[str]) -> str:
        digits = "".join(match.groups())
        return "[nhs-number]" if is_valid_nhs_number(digits) else match.group(0)

    return _TOKEN_LIKE.sub("[credential]", _NHS_LIKE.sub(replace, text))


def mask_identifiers(text: str) -> str:
    """``text`` with NHS numbers and bearer tokens masked (for audit text fields too)."""
    return _mask(text)


def _clean(value: Any) -> Any:
    if isinstance(value, str):
        return _mask(value)
    if isinstance(value, Mapping):
        return {
            k: REDACTED if str(k).lower() in SENSITIVE_KEYS else _clean(v) for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def redact_patient_data(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: the last line of defence against patient data in logs."""
    for key in list(event_dict):
        if key.lower() in SENSITIVE_KEYS:
            event_dict[key] = REDACTED
        else:
            event_dict[key] = _clean(event_dict[key])
    return event_dict


class _MaskRecord(logging.Filter):
    """Masks a library's log record in place: message, arguments and traceback text."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # arguments that do not fit the format
            message = str(record.msg)
        record.msg = _mask(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = _mask(logging.Formatter().formatException(record.exc_info))
        return True


_MASK = _MaskRecord()


def renderer(fmt: str) -> Any:
    """The last processor: one JSON object per line, or a readable console line."""
    if fmt == "json":
        return structlog.processors.JSONRenderer()
    return structlog.dev.ConsoleRenderer(colors=False)


def processors(fmt: str) -> list[Any]:
    """Every processor an event passes, in order, ending with the renderer."""
    return [
        structlog.contextvars.merge_contextvars,
        *_shared_processors(),
        renderer(fmt),
    ]


def _shared_processors() -> list[Any]:
    return [
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
        redact_patient_data,
    ]


def configure(fmt: str = "json", level: str = "info") -> None:
    """Configure structlog once at start-up (never at import)."""
    threshold = logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
    structlog.configure(
        processors=processors(fmt),
        wrapper_class=structlog.make_filtering_bound_logger(threshold),
        logger_factory=structlog.PrintLoggerFactory(sys.stdout),
        cache_logger_on_first_use=True,
    )
    _route_aiohttp(fmt, threshold)
    quiet_noisy_loggers()


class _StdoutHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stdout`` is when a record comes, as ``print`` does."""

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stdout
        super().emit(record)


def _route_aiohttp(fmt: str, threshold: int) -> None:
    """aiohttp's records are rendered as ours are, on stdout (replacing an earlier set-up)."""
    handler = _StdoutHandler()
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processor=renderer(fmt),
            foreign_pre_chain=[structlog.stdlib.add_logger_name, *_shared_processors()],
        )
    )
    parent = logging.getLogger("aiohttp")
    for old in [h for h in parent.handlers if isinstance(h, _StdoutHandler)]:
        parent.removeHandler(old)
    parent.addHandler(handler)
    parent.setLevel(max(threshold, logging.INFO))


def quiet_noisy_loggers() -> None:
    """Libraries that would log payloads at DEBUG never go below INFO; aiohttp's are masked.

    aiosqlite logs every statement with its parameters at DEBUG, and those
    parameters carry bookings (the store also hides them, as a second guard).
    aiohttp's access and server logs carry request lines (an NHS number in a
    patient search) and header text (a JWT).
    """
    logging.getLogger("aiosqlite").setLevel(logging.INFO)
    for name in AIOHTTP_LOGGERS:
        library = logging.getLogger(name)
        if _MASK not in library.filters:
            library.addFilter(_MASK)
