"""Every BaRS error code of the sending pages reaches the legacy system as its documented answer.

Table-driven (issue 12 "Done when"): the mock proxy answers each call with one code (its
``status`` fault, as the proxy or a receiver would), the ``bars`` adapter types it with its
one table (``adapters/bars/_errors.py``: the error, retried or not), and the legacy door
answers: the HL7 v2 door's MSA-1, ERR application code and whether ERR-8 says the same
message may be resent; the ITK door's ToolkitErrorInfo code (3000: fix it, 3100: send the
same message again later). README "BaRS errors as legacy answers" shows the same table.
"""

from __future__ import annotations

import re

import pytest

from tests.bars_journeys.conftest import Chain
from tests.bars_journeys.test_itk_into_bars import SAMPLE
from tests.hl7_front_door.legacy import ack_of
from tests.itk import messages

AR_REFUSED = ("AR", "SUPPLIER_REFUSED", False, "3000")
AR_NOT_OFFERED = ("AR", "NOT_IMPLEMENTED", False, "3000")
AE_RESEND = ("AE", "SUPPLIER_UNAVAILABLE", True, "3100")
AE_TIMEOUT = ("AE", "SUPPLIER_TIMEOUT", True, "3100")

#: code -> (HTTP status, SRM^S01 MSA-1, ERR code, resend advised, ITK report fault code)
LEGACY: dict[str, tuple[int, tuple[str, str, bool, str]]] = {
    "SEND_BAD_REQUEST": (400, AR_REFUSED),
    "REC_BAD_REQUEST": (400, AR_REFUSED),
    "SEND_UNAUTHORIZED": (401, AR_REFUSED),
    "REC_UNAUTHORIZED": (401, AR_REFUSED),
    # Retried once with a fresh token (Transactional-integrity/Sender-responsibilities).
    "SEND_FORBIDDEN": (403, AR_REFUSED),
    "REC_FORBIDDEN": (403, AR_REFUSED),
    "PROXY_NOT_FOUND": (404, AR_REFUSED),
    "REC_NOT_FOUND": (404, ("AE", "REFERENCE_NOT_FOUND", False, "3000")),
    "SEND_METHOD_NOT_ALLOWED": (405, AR_NOT_OFFERED),
    "REC_METHOD_NOT_ALLOWED": (405, AR_NOT_OFFERED),
    "PROXY_METHOD_NOT_ALLOWED": (405, AR_NOT_OFFERED),
    "SEND_NOT_ACCEPTABLE": (406, AR_REFUSED),
    "REC_NOT_ACCEPTABLE": (406, AR_REFUSED),
    "REC_TIMEOUT": (408, AE_TIMEOUT),
    "SEND_CONFLICT": (409, AR_REFUSED),
    "REC_CONFLICT": (409, ("AE", "SLOT_NOT_FREE", False, "3000")),
    "PROXY_CONFLICT": (409, AR_REFUSED),
    "SEND_UNPROCESSABLE_ENTITY": (422, AR_REFUSED),
    "REC_UNPROCESSABLE_ENTITY": (422, ("AE", "INVALID_RESOURCE", False, "3000")),
    "PROXY_UNPROCESSABLE_ENTITY": (422, AR_REFUSED),
    "REC_TOO_EARLY": (425, AE_RESEND),
    "SEND_TOO_MANY_REQUESTS": (429, AE_RESEND),
    "REC_TOO_MANY_REQUESTS": (429, AE_RESEND),
    "PROXY_TOO_MANY_REQUESTS": (500, AE_RESEND),
    "REC_SERVER_ERROR": (500, AE_RESEND),
    "PROXY_SERVER_ERROR": (500, AE_RESEND),
    "SEND_NOT_IMPLEMENTED": (501, AR_NOT_OFFERED),
    "REC_NOT_IMPLEMENTED": (501, AR_NOT_OFFERED),
    "PROXY_NOT_IMPLEMENTED": (501, AR_NOT_OFFERED),
    "REC_UNAVAILABLE": (503, AE_RESEND),
    "REC_SERVICE_UNAVAILABLE": (503, AE_RESEND),
    "PROXY_UNAVAILABLE": (503, AE_RESEND),
    "PROXY_TIMEOUT": (504, AE_TIMEOUT),
}


def test_the_table_covers_every_prefixed_code_the_adapter_knows() -> None:
    """No SEND_/REC_/PROXY_ code of the adapter's table is missing from the legacy table."""
    from adapters.bars._errors import CODES

    known = {rule.code: rule.status for rule in CODES if re.match(r"^(SEND|REC|PROXY)_", rule.code)}
    assert known == {code: status for code, (status, _) in LEGACY.items()}


@pytest.mark.parametrize("code", sorted(LEGACY))
async def test_a_booking_refused_with_the_code_gets_its_hl7_answer(chain: Chain, code: str) -> None:
    """SRM^S01 answered with the code: the documented MSA-1, ERR code and resend advice."""
    status, (msa, err, resend, _) = LEGACY[code]
    (offer,) = await chain.hl7.offers()
    await chain.fault(fault="status", status=status, code=code, times=20, method="POST")
    answer = ack_of(await chain.hl7.send(chain.hl7.booking(offer), wait_s=15))
    assert answer.code == msa, answer
    assert answer.errors[0].application_code == err
    assert ("transient" in answer.errors[0].text) is resend
    assert not await chain.receiver_service.patient_appointments("9990004951")


@pytest.mark.parametrize("code", sorted(LEGACY))
async def test_a_referral_refused_with_the_code_gets_its_itk_fault(chain: Chain, code: str) -> None:
    """The ITK report answered with the code: an ITK fault with the documented code."""
    status, (_, _, _, toolkit) = LEGACY[code]
    body = messages.sample(SAMPLE)
    await chain.fault(fault="status", status=status, code=code, times=20, method="POST")
    chain.itk.clock.at = messages.created(body)
    resp = await chain.itk.send(body)
    assert resp.status == 500
    text = await resp.text()
    assert f">{toolkit}<" in text, text[:2000]
