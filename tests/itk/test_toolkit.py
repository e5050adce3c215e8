"""The ITK toolkit: envelopes, acks and faults read and written as the samples show."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from adapters.itk_toolkit import acks, names
from adapters.itk_toolkit.distribution import Address, check_manifest, read_distribution
from adapters.itk_toolkit.errors import (
    ItkError,
    ToolkitCode,
    ToolkitErrorInfo,
    build_fault,
    parse_fault,
)
from adapters.itk_toolkit.headers import Addressing, Security
from adapters.itk_toolkit.message import ItkMessage, build_message, read_message
from adapters.soap_toolkit.envelope import SoapVersion
from tests.itk import samples

LIMITS = {"max_bytes": 4 << 20, "max_depth": 64}


@pytest.mark.parametrize("path", samples.requests(), ids=lambda p: p.stem)
def test_every_sample_request_reads_and_round_trips(path: Path) -> None:
    """Each sample envelope reads (service, tracking id, addresses, manifest) and rebuilds."""
    message = read_message(path.read_bytes(), **LIMITS)
    envelope = message.distribution
    check_manifest(envelope)
    assert envelope.service.startswith(names.SERVICE_PREFIX)
    assert envelope.addresses and all(a.kind in ("ods", "dos") for a in envelope.addresses)
    assert envelope.interaction and envelope.interaction.startswith("urn:nhs-itk:interaction:")
    again = read_message(build_message(message), **LIMITS)
    assert again.distribution.tracking_id == envelope.tracking_id
    assert [p.id for p in again.distribution.payloads] == [p.id for p in envelope.payloads]
    assert again.addressing == message.addressing


def test_addresses_name_ods_codes_and_dos_ids() -> None:
    """An ODS URI yields its code and a DoS-typed address its service id."""
    assert (Address.ods("EM396").kind, Address.ods("EM396").key) == ("ods", "EM396")
    dos = Address("2000006423", names.DOS_ADDRESS_TYPE)
    assert (dos.kind, dos.key) == ("dos", "2000006423")


@pytest.mark.parametrize(
    ("response", "code"),
    [
        ("manifest_not_equal_to_payload_count", ToolkitCode.MANIFEST_PAYLOAD_COUNT),
        ("payloadID_does_not_match_manifestID", ToolkitCode.PAYLOAD_IDS),
        ("invalid_manifest_instances", ToolkitCode.MANIFEST_INSTANCES),
        ("invalid_action_service_values_response", ToolkitCode.ACTION_SERVICE),
        ("basic_fault_response", ToolkitCode.INVALID_MESSAGE),
    ],
)
def test_sample_faults_are_understood(response: str, code: ToolkitCode) -> None:
    """Each harness fault sample reads as a client fault with its row of the table."""
    fault = parse_fault(samples.response(response))
    assert fault is not None and fault.sender and fault.info is not None
    assert fault.info.row is code


def test_sample_success_is_not_a_fault() -> None:
    """The harness's success answer is not read as a fault."""
    assert parse_fault(samples.response("basic_success_response")) is None


@pytest.mark.parametrize("version", list(SoapVersion))
def test_fault_round_trip(version: SoapVersion) -> None:
    """A fault we build reads back with its code, text, diagnostic and side."""
    info = ToolkitErrorInfo("E1", "2100", ToolkitCode.UNKNOWN_ADDRESS.text, "ods:XX1")
    fault = parse_fault(build_fault(version, info, sender=True))
    assert fault is not None and fault.info == info and fault.sender


def test_infrastructure_ack_answer_names_the_tracking_id() -> None:
    """The synchronous ack's Action is the service's Response and its text OK:<tracking id>."""
    service = names.SERVICE_PREFIX + "SendNHS111Report-v2-0"
    body = acks.simple_response(SoapVersion.V11, service=service, tracking_id="T1", relates_to="M1")
    answer = acks.read_simple_response(body)
    assert (answer.ok, answer.tracking_id, answer.relates_to) == (True, "T1", "M1")
    assert answer.action == service + "Response"


def test_infrastructure_and_business_acks_round_trip() -> None:
    """InfrastructureResponse and BusinessResponseMessage read back as built, in their envelopes."""
    now = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    infra = acks.InfrastructureAck("T1", "svc", now, Address.ods("RYE"))
    envelope = acks.infrastructure_ack_envelope(infra, to=Address.ods("5L399"))
    assert envelope.service == names.INFRASTRUCTURE_ACK_SERVICE
    assert envelope.payloads[0].element is not None
    assert acks.read_infrastructure_ack(envelope.payloads[0].element) == infra
    business = acks.BusinessAck(
        "A1",
        now.replace(tzinfo=None),
        "T1",
        "DOC1",
        accepted=False,
        error_code="3000",
        error_text="Payload not accepted",
    )
    element = acks.business_ack_envelope(business).payloads[0].element
    assert element is not None
    assert acks.read_business_ack(element) == business


def _message(manifest_ids: list[str], payload_ids: list[str]) -> bytes:
    from adapters.itk_toolkit.distribution import DistributionEnvelope, ManifestItem, Payload

    now = datetime(2026, 1, 2, tzinfo=UTC)
    envelope = DistributionEnvelope(
        service="svc",
        tracking_id="T",
        manifest=tuple(ManifestItem(i, "text/xml") for i in manifest_ids),
        payloads=tuple(Payload(i, text="x") for i in payload_ids),
    )
    return build_message(
        ItkMessage(
            SoapVersion.V12,
            Addressing("svc", "M"),
            Security(now, now + timedelta(minutes=5), "u"),
            envelope,
        )
    )


def test_manifest_rules_name_the_broken_one() -> None:
    """Counts and ids between manifest and payloads are checked with the samples' codes."""
    read = read_message(_message(["a", "b"], ["a"]), **LIMITS)
    with pytest.raises(ItkError) as caught:
        check_manifest(read.distribution)
    assert caught.value.code is ToolkitCode.MANIFEST_PAYLOAD_COUNT
    read = read_message(_message(["a"], ["b"]), **LIMITS)
    with pytest.raises(ItkError) as caught:
        check_manifest(read.distribution)
    assert caught.value.code is ToolkitCode.PAYLOAD_IDS
    assert read.security is not None and read.security.username == "u"


def test_not_a_distribution_envelope_is_invalid() -> None:
    """A Body holding something else is refused as an invalid message."""
    from lxml import etree

    with pytest.raises(ItkError) as caught:
        read_distribution(etree.Element("other"))
    assert caught.value.code is ToolkitCode.INVALID_MESSAGE
