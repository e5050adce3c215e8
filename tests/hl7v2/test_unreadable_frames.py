"""Row 9 at the SIU listener: an unreadable body is AR; input with no MSH is a logged close."""

from __future__ import annotations

from datetime import date

import pytest
from structlog.testing import capture_logs

from adapters.hl7_toolkit.mllp import frame
from adapters.hl7v2 import Hl7v2Adapter
from adapters.hl7v2.peer import DeskPatient, PasPeer
from tests.hl7v2.helpers import acks_of, answer_or_close, desk_siu, siu_text

PATIENT = DeskPatient("Lefèvre", "Zoë", "F", date(1980, 1, 2), nhs_number="9434765919")


def _address(adapter: Hl7v2Adapter) -> tuple[str, int]:
    assert adapter.listen_address is not None
    return adapter.listen_address


async def test_a_segment_named_by_digits_is_answered_ar_without_echoing_it(
    hl7: Hl7v2Adapter, peer: PasPeer
) -> None:
    """Row 9: an SIU with a segment named 9434765918: AR, ERR-3 100, the name never echoed."""
    item = await desk_siu(peer, hl7, PATIENT)
    text = siu_text(peer, "S12", item, "DIG-1") + "9434765918|x\r"
    with capture_logs() as logs:
        answer = await answer_or_close(_address(hl7), frame(text.encode()))
    assert answer is not None and acks_of(answer) == [("AR", "DIG-1", "100")]
    assert b"9434765918" not in answer and "9434765918" not in repr(logs)


@pytest.mark.parametrize(
    "data",
    [
        frame(b""),
        frame(b"\r\r"),
        frame(b"NOT HL7 AT ALL"),
        frame(b"MSH|^~\\&|PAS|PAS-FACILITY|||20260101||SIU^S12|||2.5\rPID|||9434765919\r"),
        b"POST / HTTP/1.1\r\nHost: pas\r\nContent-Length: 10\r\n\r\n9434765919",
    ],
    ids=["empty", "blank-lines", "not-hl7", "no-msh-10", "http"],
)
async def test_input_with_no_readable_msh_is_a_logged_counted_close(
    hl7: Hl7v2Adapter, data: bytes
) -> None:
    """Row 9: empty frames, no MSH-10, HTTP text: the connection is closed, logged and counted."""
    assert hl7.inbound is not None
    before = hl7.inbound.unreadable_closed
    with capture_logs() as logs:
        assert await answer_or_close(_address(hl7), data) is None
    (line,) = [e for e in logs if e["event"] == "unreadable_frame_dropped"]
    assert isinstance(line["size"], int) and len(line["sha256"]) == 16
    assert "9434765919" not in repr(logs)
    assert hl7.inbound.unreadable_closed == before + 1


async def test_an_nhs_number_as_msh_10_is_never_logged(hl7: Hl7v2Adapter, peer: PasPeer) -> None:
    """Row 10: an SIU whose MSH-10 is an NHS number is answered; its log lines hold a hash."""
    item = await desk_siu(peer, hl7, PATIENT)
    text = siu_text(peer, "S12", item, "9434765919")
    with capture_logs() as logs:
        answer = await answer_or_close(_address(hl7), frame(text.encode()))
        again = await answer_or_close(
            _address(hl7), frame(text.replace("SIU^S12", "SIU^S99", 1).encode())
        )
    assert answer is not None and acks_of(answer) == [("AA", "9434765919", "")]
    assert again is not None and acks_of(again) == [("AR", "9434765919", "201")]
    assert [e for e in logs if e["event"] == "siu_accepted"]
    assert "9434765919" not in repr(logs)
