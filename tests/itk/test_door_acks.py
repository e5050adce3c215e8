"""Business acks when the handling specification asks, SOAP 1.2, and the audit row."""

from __future__ import annotations

from lxml import etree

from adapters.itk_toolkit import acks, names
from adapters.itk_toolkit.distribution import read_distribution
from adapters.itk_toolkit.errors import parse_fault
from adapters.soap_toolkit.envelope import SoapVersion
from gateway.http.exchange import AUDIT
from tests.itk import messages
from tests.itk.conftest import Sender

SOAP12 = "http://www.w3.org/2003/05/soap-envelope"


def _business_ack(answer: acks.SimpleResponse) -> acks.BusinessAck:
    assert len(answer.extra) == 1
    envelope = read_distribution(answer.extra[0])
    assert envelope.service == names.BUSINESS_ACK_SERVICE
    element = envelope.payloads[0].element
    assert element is not None
    return acks.read_business_ack(element)


async def test_a_business_ack_is_sent_when_asked(sender: Sender) -> None:
    """ackrequested=true: the infrastructure ack carries an AA business ack for the document."""
    body = messages.edit(messages.sample(), messages.ask_business_ack)
    sender.clock.at = messages.created(body)
    resp = await sender.send(body)
    assert resp.status == 200
    answer = acks.read_simple_response(await resp.read())
    assert answer.ok
    ack = _business_ack(answer)
    assert ack.accepted and ack.tracking_id_ref == messages.tracking_id(body)
    assert ack.document_id == messages.document_id(body)


async def test_no_business_ack_unless_asked(sender: Sender) -> None:
    """Without ackrequested the answer is the infrastructure ack alone."""
    body = messages.sample()
    sender.clock.at = messages.created(body)
    answer = acks.read_simple_response(await (await sender.send(body)).read())
    assert answer.ok and answer.extra == ()


async def test_a_refused_document_is_a_business_nack_when_acks_are_asked(sender: Sender) -> None:
    """With ackrequested, a CDA the reader refuses is infrastructure OK plus an AE business ack."""

    def refuse(root: etree._Element) -> None:
        messages.ask_business_ack(root)
        target = next(root.iter("{urn:hl7-org:v3}recordTarget"))
        parent = target.getparent()
        assert parent is not None
        parent.remove(target)

    body = messages.edit(messages.sample(), refuse)
    sender.clock.at = messages.created(body)
    answer = acks.read_simple_response(await (await sender.send(body)).read())
    ack = _business_ack(answer)
    assert answer.ok and not ack.accepted and ack.error_code == "3000"
    assert await sender.store.find_referral_by_document(messages.document_id(body)) is None


async def test_soap_12_is_accepted_and_answered_in_soap_12(sender: Sender) -> None:
    """A SOAP 1.2 request (application/soap+xml) gets a SOAP 1.2 infrastructure ack."""
    body = messages.sample().replace(b"http://schemas.xmlsoap.org/soap/envelope/", SOAP12.encode())
    sender.clock.at = messages.created(body)
    resp = await sender.send(body, version=SoapVersion.V12)
    text = await resp.read()
    assert resp.status == 200, text.decode()[:1000]
    assert resp.content_type == "application/soap+xml"
    assert etree.fromstring(text).tag == f"{{{SOAP12}}}Envelope"
    assert acks.read_simple_response(text).ok


async def test_soap_12_faults_are_400_for_the_sender(sender: Sender) -> None:
    """A SOAP 1.2 sender fault is HTTP 400 with a Sender code."""
    body = messages.sample().replace(b"http://schemas.xmlsoap.org/soap/envelope/", SOAP12.encode())
    body = messages.edit(body, lambda root: messages.set_action(root, "urn:other"))
    sender.clock.at = messages.created(body)
    resp = await sender.send(body, version=SoapVersion.V12)
    assert resp.status == 400
    fault = parse_fault(await resp.read())
    assert fault is not None and fault.sender


async def test_the_audit_row_holds_ids_and_no_patient_data(sender: Sender) -> None:
    """One audit row per message: tracking id, sender ODS, outcome; no NHS number or name."""
    body = messages.sample()
    sender.clock.at = messages.created(body)
    await sender.send(body)
    await sender.app[AUDIT].flush()
    rows = [r for r in await sender.store.audit_entries() if r.interaction == "itk_report"]
    assert len(rows) == 1
    row = rows[0]
    assert row.correlation_id == messages.tracking_id(body) and row.outcome == "referral_created"
    assert row.organisation_ods == "5L399"
    assert "993254128" not in repr(row)
