"""What a journaled SIU would become under a configuration, with no I/O (shadow replay).

``evaluator(name, options, base_dir)`` loads the options' mapping tables once and
returns a function of one message's bytes: the same decoding, validation and
mapping the listener applies (``_receive``, ``_siu``), but against no journal, no
PAS and no gateway, so the same message under two configurations can be compared
(``uec-gateway replay --shadow``). A booking is mapped as if the desk made it
(no known booking), which is what the mapping tables alone decide.

The fields are mapped codes, ids, times and identifier *systems*; never a value
read from the patient's segments.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from adapters import errors
from adapters.domain import Booking, utcnow
from adapters.hl7_toolkit.charsets import UnknownCharset, codec_for
from adapters.hl7_toolkit.frames import heading
from adapters.hl7v2._options import Hl7v2Options, parse_options
from adapters.hl7v2._siu import Rejected, read_change, to_booking
from adapters.hl7v2.mapping import Mappings, load_mappings
from adapters.journaling import APPLIED, FAILED, REJECTED, Evaluation


def evaluator(
    name: str, options: Mapping[str, Any], base_dir: Path
) -> Callable[[bytes], Evaluation]:
    """What each message becomes under ``options`` (raises ``ValueError`` for bad ones)."""
    settings = parse_options(name, options)
    mappings = load_mappings(settings.mappings_path(base_dir))

    def evaluate(payload: bytes) -> Evaluation:
        try:
            booking, trigger = _map(name, settings, mappings, payload)
        except Rejected as exc:
            outcome = FAILED if exc.ack_code == "AE" else REJECTED
            reason = exc.reason if exc.hl7_code == "103" else ""
            return Evaluation(outcome, f"{exc.ack_code}:{exc.hl7_code}", reason)
        return Evaluation(APPLIED, fields=_fields(booking, trigger))

    return evaluate


def _map(
    name: str, settings: Hl7v2Options, mappings: Mappings, payload: bytes
) -> tuple[Booking, str]:
    head = heading(payload)
    if head is None:
        raise Rejected("no readable MSH segment", "AR", "100")
    try:
        text = payload.decode(codec_for(head.charset or settings.default_encoding))
    except (UnknownCharset, UnicodeDecodeError):
        raise Rejected("the message cannot be decoded", "AR", "102") from None
    change = read_change(text, mappings, settings.zone, gate=settings.validate_inbound)
    try:
        booking = to_booking(change, name, mappings, None, utcnow(), settings.identifier_defaults)
    except errors.MappingError as exc:
        raise Rejected(exc.message, "AE", "103") from None
    return booking, change.trigger


def _fields(booking: Booking, trigger: str) -> dict[str, str]:
    patient = booking.patient
    local = patient.local_identifier
    channel = booking.slot.delivery_channel
    return {
        "trigger": f"SIU^{trigger}",
        "status": booking.status.value,
        "slot_status": booking.slot.status.value,
        "slot_id": booking.slot.id,
        "schedule_id": booking.slot.schedule_id,
        "service_id": booking.service_id,
        "delivery_channel": channel.value if channel is not None else "",
        "start": booking.start.isoformat(),
        "end": booking.end.isoformat(),
        "nhs_number_mapped": "yes" if patient.nhs_number else "no",
        "local_identifier_system": local.system if local is not None else "",
    }
