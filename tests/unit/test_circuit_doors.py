"""An open circuit reaches every front door as that door's transient answer, with when to retry."""

from __future__ import annotations

from pathlib import Path

from adapters.errors import CircuitOpen
from adapters.itk_toolkit.errors import ToolkitCode
from gateway.bars.errors import Rec, from_api_error
from gateway.errors import ErrorKind, from_adapter_error
from gateway.hl7.tables import load_tables
from gateway.itk.receive import _from_api_error as itk_error

ROOT = Path(__file__).resolve().parents[2]
OPEN = CircuitOpen("acme is failing; the gateway is not calling it for now", retry_after_s=7)


def test_fhir_door_answers_503_with_retry_after() -> None:
    """STU3: 503, issue code transient, Retry-After the seconds until the probe."""
    error = from_adapter_error(OPEN)
    assert error.kind is ErrorKind.SUPPLIER_CIRCUIT_OPEN
    assert (error.kind.spec.status, error.kind.spec.issue_code) == (503, "transient")
    assert error.headers == {"Retry-After": "7"}


def test_bars_door_answers_service_unavailable_with_retry_after() -> None:
    """BaRS: REC_SERVICE_UNAVAILABLE (503), Retry-After carried through."""
    rec = from_api_error(from_adapter_error(OPEN))
    assert (rec.rec, rec.issue_code) == (Rec.SERVICE_UNAVAILABLE, "transient")
    assert rec.headers == {"Retry-After": "7"}


def test_hl7_door_answers_ae_that_may_be_resent() -> None:
    """HL7 v2: an AE acknowledgement whose ERR says the same message may be resent."""
    row = load_tables(ROOT / "mappings" / "hl7_front_door" / "demo").errors[
        ErrorKind.SUPPLIER_CIRCUIT_OPEN
    ]
    assert (row.ack_code, row.retry) == ("AE", True)


def test_itk_door_answers_a_processing_fault_not_a_refusal() -> None:
    """ITK: a processing fault (send again later), never the payload-refused final answer."""
    assert itk_error(from_adapter_error(OPEN)).code is ToolkitCode.PROCESSING_FAILED
