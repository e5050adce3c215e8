"""structlog set-up: JSON in production, one summary line per request, no patient data.

Code logs ids and hashes only. ``redact_patient_data`` is the backstop: any
value under a patient-ish key is dropped and any NHS number (ten digits with a
valid check digit, spaced or not) inside any string is masked.
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


def _mask(text: str) -> str:
    def replace(match: re.Match[str]) -> str:
        digits = "".join(match.groups())
        return "[nhs-number]" if is_valid_nhs_number(digits) else match.group(0)

    return _NHS_LIKE.sub(replace, text)


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


def configure(fmt: str = "json", level: str = "info") -> None:
    """Configure structlog once at start-up (never at import)."""
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            redact_patient_data,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
        ),
        logger_factory=structlog.PrintLoggerFactory(sys.stdout),
        cache_logger_on_first_use=True,
    )
    quiet_noisy_loggers()


def quiet_noisy_loggers() -> None:
    """Libraries that would log payloads at DEBUG never go below INFO.

    aiosqlite logs every statement with its parameters at DEBUG, and those
    parameters carry bookings (the store also hides them, as a second guard).
    """
    logging.getLogger("aiosqlite").setLevel(logging.INFO)
