"""Envelope failures are ITK faults whose ToolkitErrorInfo matches the harness samples."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from lxml import etree

from adapters.itk_toolkit.errors import ItkFault, ToolkitCode, parse_fault
from adapters.itk_toolkit.names import ITK
from adapters.soap_toolkit.envelope import SoapVersion
from tests.itk import messages, samples
from tests.itk.conftest import Sender

Edit = Callable[[etree._Element], object]


async def _fault(sender: Sender, body: bytes, status: int = 500, **send: object) -> ItkFault:
    resp = await sender.send(body, **send)  # type: ignore[arg-type]
    assert resp.status == status
    fault = parse_fault(await resp.read())
    assert fault is not None and fault.info is not None
    return fault


def _manifest_count(root: etree._Element) -> None:
    next(root.iter(ITK.q("manifest"))).set("count", "2")
    next(root.iter(ITK.q("payloads"))).set("count", "2")


def _payload_count(root: etree._Element) -> None:
    next(root.iter(ITK.q("manifest"))).set("count", "2")
    manifest = next(root.iter(ITK.q("manifest")))
    ITK.sub(manifest, "manifestitem", id="uuid_second", mimetype="text/xml")


def _manifest_instances(root: etree._Element) -> None:
    next(root.iter(ITK.q("manifest"))).set("count", "3")


def _payload_id(root: etree._Element) -> None:
    next(root.iter(ITK.q("payload"))).set("id", "uuid_not_in_the_manifest")


def _action(root: etree._Element) -> None:
    messages.set_action(root, "urn:nhs-itk:services:201005:SendNHS111Report-v2-0")


SAMPLE_SITUATIONS: list[tuple[str, Edit]] = [
    ("manifest_not_equal_to_payload_count", _payload_count),
    ("invalid_manifest_instances", _manifest_instances),
    ("payloadID_does_not_match_manifestID", _payload_id),
    ("invalid_action_service_values_response", _action),
]


@pytest.mark.parametrize(
    ("response", "change"), SAMPLE_SITUATIONS, ids=[s[0] for s in SAMPLE_SITUATIONS]
)
async def test_sample_situations_are_answered_as_the_samples(
    sender: Sender, response: str, change: Edit
) -> None:
    """Each harness situation gets a Client fault with the sample's ErrorCode and ErrorText."""
    body = messages.edit(messages.sample(), change)
    sender.clock.at = messages.created(body)
    expected = parse_fault(samples.response(response))
    assert expected is not None and expected.info is not None
    fault = await _fault(sender, body)
    assert fault.sender and fault.info is not None
    assert (fault.info.code, fault.info.text) == (expected.info.code, expected.info.text)


async def test_payload_count_that_disagrees_with_its_payloads_is_refused(sender: Sender) -> None:
    """payloads count 2 over one payload is a 1000 fault naming payload instances."""
    body = messages.edit(messages.sample(), _manifest_count)
    sender.clock.at = messages.created(body)
    fault = await _fault(sender, body)
    assert fault.info is not None and fault.info.row is ToolkitCode.MANIFEST_INSTANCES


def _unknown_address(root: etree._Element) -> None:
    next(root.iter(ITK.q("address"))).set("uri", "urn:nhs-uk:addressing:ods:ZZZ99")


def _unknown_interaction(root: etree._Element) -> None:
    messages.set_interaction(root, "urn:nhs-itk:interaction:somethingElse-v1-0")


def _unknown_service(root: etree._Element) -> None:
    service = "urn:nhs-itk:services:201005:SendSomethingElse-v1-0"
    messages.header(root).set("service", service)
    messages.set_action(root, service)


@pytest.mark.parametrize(
    ("change", "code"),
    [
        (_unknown_address, ToolkitCode.UNKNOWN_ADDRESS),
        (_unknown_interaction, ToolkitCode.UNKNOWN_INTERACTION),
        (_unknown_service, ToolkitCode.UNKNOWN_SERVICE),
    ],
    ids=["address", "interaction", "service"],
)
async def test_what_the_door_does_not_serve_is_named(
    sender: Sender, change: Edit, code: ToolkitCode
) -> None:
    """An unknown address, interaction or service is a Client fault with its 2000-series code."""
    body = messages.edit(messages.sample(), change)
    sender.clock.at = messages.created(body)
    fault = await _fault(sender, body)
    assert fault.sender and fault.info is not None and fault.info.row is code


async def test_an_expired_timestamp_is_refused_and_makes_no_referral(sender: Sender) -> None:
    """A message whose WS-Security Expires has passed is fault 1100, and nothing is stored."""
    body = messages.sample()
    created = messages.created(body)
    assert created is not None
    sender.clock.at = created + timedelta(hours=1)
    fault = await _fault(sender, body)
    assert fault.info is not None and fault.info.row is ToolkitCode.EXPIRED
    assert await sender.store.find_referral_by_document(messages.document_id(body)) is None


async def test_a_soap_version_unlike_its_media_type_is_refused(sender: Sender) -> None:
    """A SOAP 1.1 envelope sent as application/soap+xml is fault 1002, in the envelope's SOAP."""
    body = messages.sample()
    sender.clock.at = messages.created(body)
    fault = await _fault(sender, body, version=SoapVersion.V12)
    assert fault.info is not None and fault.info.row is ToolkitCode.SOAP_VERSION


async def test_a_body_that_is_not_a_distribution_envelope_is_invalid(sender: Sender) -> None:
    """A SOAP Body holding something else is fault 1000 Invalid message, not a stack trace."""
    body = (
        b'<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>'
        b"<other/></s:Body></s:Envelope>"
    )
    fault = await _fault(sender, body)
    assert fault.info is not None and fault.info.row is ToolkitCode.INVALID_MESSAGE
    assert "DistributionEnvelope" in (fault.info.diagnostic or "")


async def test_a_document_the_reader_refuses_is_fault_3000_naming_the_xpath(sender: Sender) -> None:
    """A CDA without its patient is refused with 3000 and the XPath, no referral stored."""

    def drop_patient(root: etree._Element) -> None:
        target = next(root.iter("{urn:hl7-org:v3}recordTarget"))
        parent = target.getparent()
        assert parent is not None
        parent.remove(target)

    body = messages.edit(messages.sample(), drop_patient)
    sender.clock.at = messages.created(body)
    fault = await _fault(sender, body)
    assert fault.info is not None and fault.info.row is ToolkitCode.PAYLOAD_REFUSED
    assert "/ClinicalDocument" in (fault.info.diagnostic or "")
    assert await sender.store.find_referral_by_document(messages.document_id(body)) is None
