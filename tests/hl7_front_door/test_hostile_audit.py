"""Row 10 (HL7 part): a value a hostile message carries never reaches an audit row or log."""

from __future__ import annotations

import pytest
from structlog.testing import capture_logs

from adapters.hl7_toolkit.er7 import Message, segment
from adapters.hl7_toolkit.mllp import frame
from tests.hl7_front_door.conftest import SERVICE_ID, Door
from tests.hl7v2.helpers import acks_of, answer_or_close

NHS = "9434765919"


def _search(door: Door, control: str, kind: str = "SQM^S25", service: str = "UTC-DEMO") -> str:
    head = door.legacy.msh("SQM", "S25", "SQM_S25", control)
    text = Message((head, segment("QRD"), segment("QRF", service))).to_er7()
    return text.replace("|SQM^S25^SQM_S25|", f"|{kind}|", 1)


def _cancel(door: Door, control: str, appointment: str) -> str:
    head = door.legacy.msh("SRM", "S04", "SRM_S01", control)
    return Message((head, segment("ARQ", None, appointment))).to_er7()


@pytest.mark.parametrize(
    "where", ["MSH-9", "MSH-9 event", "MSH-10", "MSH-3", "QRF-1", "ARQ-2", "MSH-10 spaced"]
)
async def test_an_nhs_number_in_any_field_is_never_audited_or_logged(
    door: Door, where: str
) -> None:
    """Row 10: an NHS number in MSH-9, MSH-10, MSH-3, QRF-1 or ARQ-2 is answered, never kept."""
    control = door.legacy.control_id()
    text = {
        "MSH-9": lambda: _search(door, control, kind=f"{NHS}^S25"),
        "MSH-9 event": lambda: _search(door, control, kind=f"SQM^{NHS}"),
        "MSH-10": lambda: _search(door, NHS),
        "MSH-3": lambda: _search(door, control).replace("|CAS-APP|", f"|{NHS}|", 1),
        "QRF-1": lambda: _search(door, control, service=NHS),
        "ARQ-2": lambda: _cancel(door, control, NHS),
        "MSH-10 spaced": lambda: _search(door, "943 476 5919"),
    }[where]()
    with capture_logs() as logs:
        answer = await answer_or_close(door.hl7_address, frame(text.encode()))
        await door.flush_audit()
    assert answer is not None and acks_of(answer)[0][0] in ("AA", "AE", "AR")
    rows = [e for e in await door.service.store.audit_entries() if e.front_door == "hl7v2"]
    assert rows, "every message is audited"
    for value in (NHS, "943 476 5919"):
        assert value not in repr(rows), rows
        assert value not in repr(logs), logs


async def test_validated_values_are_audited_as_sent(door: Door) -> None:
    """Row 10: a handled message type, routed service, plain MSH-10 and MSH-3 stay readable."""
    control = door.legacy.control_id()
    answer = await answer_or_close(door.hl7_address, frame(_search(door, control).encode()))
    assert answer is not None and acks_of(answer)[0][0] == "AA"
    await door.flush_audit()
    (row,) = [e for e in await door.service.store.audit_entries() if e.correlation_id == control]
    assert (row.method, row.service_id, row.device_id) == ("SQM^S25", SERVICE_ID, "CAS-APP")
