"""Reading the NHS 111 CDA report into a Referral: every shared ITK sample, and refusals.

The samples in ``../shared/samples/itk-cda`` are real ITK 2.2 messages written by 111
suppliers; the expected values below were read from each file by hand.
"""

from __future__ import annotations

import base64
import copy
from dataclasses import dataclass
from datetime import UTC, date, datetime

import pytest
from lxml import etree

from adapters.cda_toolkit import CdaReading, payloads, read_bytes, read_report
from adapters.cda_toolkit._xml import instant
from adapters.domain import Gender, Referral
from adapters.soap_toolkit.hardened_xml import parse
from tests.samples import SHARED_SAMPLES, absent

FOLDER = SHARED_SAMPLES / "itk-cda"
HL7 = "urn:hl7-org:v3"
RECEIVED = datetime(2026, 1, 5, 9, 30, tzinfo=UTC)


@dataclass(frozen=True)
class Expected:
    """Key fields of one report, read from the sample by hand."""

    file: str
    payload: int
    nhs_number: str | None
    local_id: str | None
    birth_date: date
    gender: Gender
    dx: str
    document_id: str
    author_ods: str
    recipient: str


EXPECTED = (
    Expected("adastra-itk-ooh-referral-dx06-itk-request.xml", 0, "9990004951",
             "4AEDBB77-3679-4016-BF35-D60D67975D38", date(2015, 4, 1), Gender.FEMALE, "DX06",
             "688C220F-8E30-4977-9879-591D155C42C4", "RYE", "RSHSO14A"),
    Expected("adastra-itk-ooh-referral-dx86-itk-request.xml", 0, None,
             "9546EB08-C089-4BB5-A421-29D2D188B17F", date(1980, 1, 1), Gender.FEMALE, "DX86",
             "1B02EA8D-3706-4D57-8917-1FC4BE710B86", "RYE", "FDH68RPX"),
    Expected("cleric-itk-ooh-referral-dx09-itk-request.xml", 0, None, "1081845",
             date(1980, 1, 1), Gender.MALE, "DX09", "B4B222D1-05C5-4CCC-8F36-9BED1B1B3A59",
             "RX7", "A82018"),
    Expected("cleric-itk-ooh-referral-dx10-itk-request.xml", 0, None, "1081836",
             date(1980, 1, 1), Gender.MALE, "DX10", "DCA7FD8C-1698-4D3A-BE55-AEA0DBA2939F",
             "RX7", "Y02837001"),
    Expected("conformance-example-adastra-ooh-itk-request.xml", 0, None,
             "6DA30D7B-1A66-4007-992A-8FF1DB58F68D", date(1990, 2, 2), Gender.OTHER,
             "DispoCodeDx87", "C17C1330-EE70-49AB-A2C7-B6F153FF35E1", "RYE", "FHR04RPX"),
    Expected("conformance-example-adastra-original-itk-request.xml", 0, None,
             "DRSM-C2YMQR-308", date(1996, 3, 25), Gender.MALE, "DX10",
             "11C461AF-684A-4D0E-8865-FC25042657C4", "NTN08", "NVE06"),
    Expected("ic24-itk-ooh-referral-dx06-itk-request.xml", 0, None, "DRSM-C2WCE8-975",
             date(1996, 3, 25), Gender.MALE, "DX06", "1CA2D7AF-4DE5-47E5-818C-CAA492807DD7",
             "NTN08", "NVE06"),
    Expected("ic24-itk-ooh-referral-dx07-itk-request.xml", 0, None, "DRSM-C2WCHT-134",
             date(1996, 3, 25), Gender.MALE, "DX07", "1470B707-F3CF-45C0-88C1-617D83FF2DBA",
             "NTN08", "NVE06"),
    Expected("primary-emergency-itk-request.xml", 0, None, "K12345", date(1989, 1, 1),
             Gender.MALE, "DX001", "A709A442-3CF4-476E-8377-376500E829C9", "5L399", "PRA123"),
    *(
        Expected(name, 0, "9990238359", "A0C532E4-6C1B-4B8A-A45C-1108D7E036E2",
                 date(1965, 2, 17), Gender.FEMALE, "DX02",
                 "67C33730-0D06-45C1-B9FE-4864A3157205", "Y00397", "20000729")
        for name in ("repeat-caller-itk-request.xml", "repeat-caller-exampleV1-itk-request.xml")
    ),
    *(
        Expected(name, index, "9990238359", local, date(1965, 2, 17), Gender.FEMALE, dx,
                 doc, author, "RHY25")
        for name in ("repeat-caller-itk-request.xml", "repeat-caller-exampleV1-itk-request.xml")
        for index, local, dx, doc, author in (
            (1, "D8084318-2261-403D-B82A-B60C002CCC1A", "DX02",
             "319B875B-6AC7-475F-A696-C10FF4477D81", "RYA06"),
            (2, "D8084318-2261-403D-B82A-B60C002CCC1A", "DX92",
             "6AD3B58C-42EF-40CF-828D-879495D8D6FC", "RYA06"),
            (3, "D8084318-2261-403D-B82A-B60C002CCC1A", "DX92",
             "4FF5F7E7-FEBD-4B41-B3A6-B6D64E8BE5E3", "RYA06"),
            (4, "D8084318-2261-403D-B82A-B60C002CCC1A", "DX05",
             "55B82F1F-3EF9-46EE-81F9-8D09FE0F5320", "RYA06"),
            (5, "412F945F-588D-496D-B77A-FB90BFB11D90", "DX06",
             "2EE72013-C8F5-4A85-BD48-2C9DCE6D5FCC", "RX8"),
        )
    ),
    Expected("tpp-ooh-T6-skillset.xml", 0, "9990556512", None, date(1944, 1, 15),
             Gender.FEMALE, "DX09", "2AC2F390-A532-11EC-B262-B908B3B2B1B6", "G1Q2R", "EM396"),
)  # fmt: skip


def sample_root(name: str) -> etree._Element:
    """The parsed ITK message of one shared sample (skipped outside CI when absent)."""
    path = FOLDER / name
    if not path.is_file():
        pytest.skip(absent(path))
    return parse(path.read_bytes(), max_bytes=4 * 1024 * 1024)


def sample_document(name: str, index: int = 0) -> etree._Element:
    """The ``index``-th ClinicalDocument of a sample, copied so a test may change it."""
    found = payloads(sample_root(name))[index].document
    assert found is not None
    return copy.deepcopy(found)


def read(document: etree._Element, **kwargs: str) -> CdaReading:
    return read_report(document, received_at=RECEIVED, **kwargs)


def accepted(document: etree._Element) -> Referral:
    reading = read(document)
    assert reading.problems == (), reading.problems
    assert reading.referral is not None
    return reading.referral


def remove(document: etree._Element, path: str) -> None:
    """Delete every element at ``path`` (an XPath with the ``h:`` prefix)."""
    found = document.xpath(path, namespaces={"h": HL7, "n": "NPFIT:HL7:Localisation"})
    assert isinstance(found, list) and found, path
    for element in found:
        assert isinstance(element, etree._Element)
        parent = element.getparent()
        assert parent is not None
        parent.remove(element)


def problem_paths(reading: CdaReading) -> list[str]:
    return [p.xpath for p in reading.problems]


@pytest.mark.parametrize("want", EXPECTED, ids=lambda e: f"{e.file}[{e.payload}]")
def test_every_sample_report_is_read_into_a_referral_with_its_key_fields(want: Expected) -> None:
    """Each shared sample's report gives a Referral whose key fields are those in the file."""
    referral = accepted(sample_document(want.file, want.payload))
    assert referral.patient.nhs_number == want.nhs_number
    local = referral.patient.local_identifier
    assert (local.value if local else None) == want.local_id
    assert referral.patient.birth_date == want.birth_date
    assert referral.patient.gender == want.gender
    assert referral.triage is not None and referral.triage.disposition.code == want.dx
    assert referral.document_identifier == want.document_id
    org = referral.requester.organisation
    assert org is not None and org.ods_code == want.author_ods
    assert referral.service_id == want.recipient
    kept = [a for a in referral.clinical.attachments if a.kind == "document"]
    assert [a.identifier for a in kept] == [want.document_id]


def test_every_sample_file_and_payload_is_accounted_for() -> None:
    """No sample (nor payload) in the folder is left out of the expectations above."""
    if not FOLDER.is_dir():
        pytest.skip(absent(FOLDER))
    listed = {(e.file, e.payload) for e in EXPECTED}
    found = {
        (path.name, index)
        for path in sorted(FOLDER.glob("*.xml"))
        for index, _ in enumerate(payloads(sample_root(path.name)))
    }
    assert found == listed


def test_a_report_reads_name_address_telecom_gp_author_and_consent() -> None:
    """The adastra Dx06 report: name, home address, phone (not the EC one), GP, author, consent."""
    referral = accepted(sample_document("adastra-itk-ooh-referral-dx06-itk-request.xml"))
    patient = referral.patient
    assert patient.name.family == "Xxtestpatientdfae" and patient.name.given == ("Btl-Donotuse",)
    assert patient.nhs_number_verification == "01"
    assert patient.address.postcode == "SO40 2RZ" and patient.address.use == "home"
    assert [(t.system, t.value, t.use) for t in patient.telecom] == [
        ("phone", "07948625625", "home")
    ]
    by_kind = {a.kind: a for a in referral.clinical.attachments}
    assert "J82633" in (by_kind["Organization"].data or "")
    assert "425691002" in (by_kind["Consent"].data or "")
    assert referral.requester.practitioner is not None
    assert referral.requester.practitioner.id == "MCDONALDD"
    assert referral.authored == datetime(2021, 4, 6, 11, 33, 27, tzinfo=UTC)
    assert referral.triage is not None
    assert referral.triage.disposition.display == "To contact a local service within 6 hours"
    assert referral.reason_text == "Pharmacy ITK Testing"
    assert "call us back" in (referral.clinical.patient_instruction or "")
    assert "Flank pain" in (referral.clinical.summary or "")
    assert "fighting for breath" in (referral.triage.text or "")
    assert referral.sender_identifier is not None
    assert referral.sender_identifier.value == "urn:uuid:A8E3FB32-6805-4191-B071-EA540A9318CD"


def test_the_whole_document_is_kept_unchanged_as_an_attachment() -> None:
    """The ``document`` attachment decodes to the very ClinicalDocument that was read."""
    document = sample_document("primary-emergency-itk-request.xml")
    referral = accepted(document)
    kept = next(a for a in referral.clinical.attachments if a.kind == "document")
    assert kept.content_type == "application/hl7-v3+xml"
    again = etree.fromstring(base64.b64decode(kept.data or ""))
    original = etree.fromstring(etree.tostring(document))
    assert etree.tostring(again, method="c14n") == etree.tostring(original, method="c14n")


def test_appointment_reference_discriminators_and_flags_are_read() -> None:
    """The IUC sample's appointment reference, clinical discriminators and patient-notes flag."""
    reading = read(sample_document("primary-emergency-itk-request.xml"))
    referral = reading.referral
    assert referral is not None
    assert referral.appointment_id == "eb4f7f21-3962-4416-9a29-a46dd6ee5f17"
    assert reading.appointment_reference == referral.appointment_id
    assert referral.triage is not None
    assert ("http://snomed.info/sct", "22298006") in {
        (c.system, c.code) for c in referral.triage.codes
    }
    assert reading.flags == ("Additional Patient Notes",)
    assert any(a.kind == "Flag" for a in referral.clinical.attachments)
    identifiers = [a.identifier for a in referral.clinical.attachments]
    assert len(identifiers) == len(set(identifiers))


def test_sections_the_model_has_no_field_for_are_kept_as_attachments() -> None:
    """Special patient notes of a repeat-caller report are a section attachment and a Flag."""
    referral = accepted(sample_document("repeat-caller-itk-request.xml", 5))
    titles = {a.title for a in referral.clinical.attachments if a.kind == "section"}
    assert {"Repeat Caller Information", "Special Patient Notes"} <= titles
    section = next(a for a in referral.clinical.attachments if a.title == "Special Patient Notes")
    assert section.data


def test_the_tpp_report_with_a_placeholder_document_code_is_read_with_a_note() -> None:
    """TPP writes ClinicalDocument/code 000000000000000: read by its messageType, noted."""
    reading = read(sample_document("tpp-ooh-T6-skillset.xml"))
    assert reading.referral is not None
    assert [n.xpath for n in reading.notes] == ["/ClinicalDocument/code/@code"]
    # no authorization/consent in this report: read, and no Consent attachment is made up
    assert all(a.kind != "Consent" for a in reading.referral.clinical.attachments)
    # effectiveTime 20220316140542 has no offset: England's time (GMT that day)
    assert reading.referral.authored == datetime(2022, 3, 16, 14, 5, 42, tzinfo=UTC)


def test_an_unverified_nhs_number_that_fails_its_check_is_a_note_not_a_refusal() -> None:
    """The placeholder 0000000000 (unverified) is dropped with a note; the local id is kept."""
    reading = read(sample_document("adastra-itk-ooh-referral-dx86-itk-request.xml"))
    assert reading.referral is not None and reading.referral.patient.nhs_number is None
    assert [n.xpath for n in reading.notes] == [
        "/ClinicalDocument/recordTarget/patientRole/id/@extension"
    ]


def test_a_verified_nhs_number_that_fails_its_check_is_refused_without_echoing_it() -> None:
    """A verified NHS number with a wrong check digit refuses the report; the number is not told."""
    document = sample_document("adastra-itk-ooh-referral-dx06-itk-request.xml")
    ident = document.find(f"{{{HL7}}}recordTarget/{{{HL7}}}patientRole/{{{HL7}}}id")
    assert ident is not None
    ident.set("extension", "9990004952")
    reading = read(document)
    assert reading.referral is None
    assert problem_paths(reading) == ["/ClinicalDocument/recordTarget/patientRole/id/@extension"]
    assert "9990004952" not in str(reading.problems)


MANDATORY = (
    ("h:recordTarget/h:patientRole/h:patient/h:birthTime",
     "/ClinicalDocument/recordTarget/patientRole/patient/birthTime/@value"),
    ("h:recordTarget/h:patientRole/h:patient/h:name",
     "/ClinicalDocument/recordTarget/patientRole/patient/name"),
    ("h:recordTarget/h:patientRole/h:patient/h:administrativeGenderCode",
     "/ClinicalDocument/recordTarget/patientRole/patient/administrativeGenderCode"),
    ("h:recordTarget/h:patientRole/h:id", "/ClinicalDocument/recordTarget/patientRole/id"),
    ("h:recordTarget", "/ClinicalDocument/recordTarget/patientRole"),
    ("h:componentOf/h:encompassingEncounter/h:dischargeDispositionCode",
     "/ClinicalDocument/componentOf/encompassingEncounter/dischargeDispositionCode/@code"),
    ("h:author/h:assignedAuthor/h:representedOrganization",
     "/ClinicalDocument/author/assignedAuthor/representedOrganization/id/@extension"),
    ("h:id", "/ClinicalDocument/id/@root"),
    ("h:setId", "/ClinicalDocument/setId/@root"),
    ("h:versionNumber", "/ClinicalDocument/versionNumber/@value"),
    ("n:messageType", "/ClinicalDocument/messageType/@extension"),
    ("h:code", "/ClinicalDocument/code/@code"),
    ("h:component", "/ClinicalDocument/component/structuredBody"),
    ("h:informationRecipient", "/ClinicalDocument/informationRecipient[@typeCode='PRCP']"),
)  # fmt: skip


@pytest.mark.parametrize(("path", "xpath"), MANDATORY, ids=[m[1] for m in MANDATORY])
def test_mandatory_content_removed_is_a_refusal_naming_its_xpath(path: str, xpath: str) -> None:
    """Removing a mandatory part refuses the report with a problem naming that part's XPath."""
    document = sample_document("adastra-itk-ooh-referral-dx06-itk-request.xml")
    remove(document, path)
    reading = read(document)
    assert reading.referral is None
    assert xpath in problem_paths(reading)


@pytest.mark.parametrize(
    ("path", "attribute", "value", "xpath"),
    [
        ("n:messageType", "extension", "POCD_MT000002UK01",
         "/ClinicalDocument/messageType/@extension"),
        ("h:code", "code", "12345", "/ClinicalDocument/code/@code"),
        ("h:recordTarget/h:patientRole/h:patient/h:administrativeGenderCode", "code", "X",
         "/ClinicalDocument/recordTarget/patientRole/patient/administrativeGenderCode/@code"),
        ("h:componentOf/h:encompassingEncounter/h:dischargeDispositionCode", "codeSystem", "1.2.3",
         "/ClinicalDocument/componentOf/encompassingEncounter/dischargeDispositionCode/@codeSystem"),
        ("h:versionNumber", "value", "two", "/ClinicalDocument/versionNumber/@value"),
    ],
)  # fmt: skip
def test_unknown_mandatory_content_is_a_refusal_naming_its_xpath(
    path: str, attribute: str, value: str, xpath: str
) -> None:
    """An unknown document type, gender, Dx code system or version refuses, naming the XPath."""
    document = sample_document("cleric-itk-ooh-referral-dx09-itk-request.xml")
    found = document.find(path, {"h": HL7, "n": "NPFIT:HL7:Localisation"})
    assert found is not None
    found.set(attribute, value)
    reading = read(document)
    assert reading.referral is None and problem_paths(reading) == [xpath]


def test_every_refusal_reason_is_reported_at_once() -> None:
    """Two missing parts give two problems in one reading (the sender fixes both at once)."""
    document = sample_document("ic24-itk-ooh-referral-dx06-itk-request.xml")
    remove(document, "h:setId")
    remove(document, "h:componentOf/h:encompassingEncounter/h:dischargeDispositionCode")
    assert len(read(document).problems) == 2


def test_the_itk_address_names_the_service_over_the_cda_recipient() -> None:
    """``service_id`` (the envelope's DoS address) wins over informationRecipient PRCP."""
    reading = read(sample_document("primary-emergency-itk-request.xml"), service_id="2000006423")
    assert reading.referral is not None and reading.referral.service_id == "2000006423"


def test_a_root_that_is_not_a_clinical_document_is_refused() -> None:
    """The SOAP envelope itself given as the document is refused at /ClinicalDocument."""
    reading = read(sample_root("ic24-itk-ooh-referral-dx07-itk-request.xml"))
    assert problem_paths(reading) == ["/ClinicalDocument"]


def test_bytes_that_are_not_xml_or_carry_a_doctype_are_refused() -> None:
    """read_bytes refuses malformed XML and DTDs through the hardened parser, never raising."""
    for body in (b"<ClinicalDocument", b'<!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>', b""):
        reading = read_bytes(body, received_at=RECEIVED)
        assert reading.referral is None and problem_paths(reading) == ["/"]


def test_envelope_payloads_carry_manifest_mimetype_profile_and_base64_documents() -> None:
    """Payloads pair with their manifest item; a base64 payload's CDA is decoded and parsed."""
    root = sample_root("cleric-itk-ooh-referral-dx10-itk-request.xml")
    (payload,) = payloads(root)
    assert payload.mimetype == "text/xml"
    assert payload.profile_id == "urn:nhs-en:profile:nhs111CDADocument-v2-0"
    element = root.find(".//{urn:nhs-itk:ns:201005}payload")
    assert element is not None and payload.document is not None
    encoded = base64.b64encode(etree.tostring(payload.document)).decode()
    element.remove(payload.document)
    element.text = encoded
    (again,) = payloads(root)
    assert again.document is not None and accepted(again.document).service_id == "Y02837001"
    element.text = "not base64 at all!"
    (bad,) = payloads(root)
    assert bad.document is None and bad.reason is not None


def test_hl7_times_read_both_offset_spellings_and_england_time_without_one() -> None:
    """``+01`` and ``+0100`` are the same offset; no offset is Europe/London (BST in July)."""
    assert instant("20210406123335+01") == datetime(2021, 4, 6, 11, 33, 35, tzinfo=UTC)
    assert instant("20210406123335+0100") == instant("20210406123335+01")
    assert instant("201701012000+00") == datetime(2017, 1, 1, 20, 0, tzinfo=UTC)
    assert instant("20210706120000") == datetime(2021, 7, 6, 11, 0, tzinfo=UTC)
    assert instant("20211345") is None and instant("yesterday") is None
