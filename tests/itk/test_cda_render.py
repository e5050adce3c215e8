"""Rendering a Referral as an NHS 111 CDA report, and reading it back.

A referral read from a CDA is rendered as that CDA, unchanged; any other (a BaRS
referral for an ITK-only provider) is written with the header and body every shared
sample carries, and ``read_report`` gives every canonical field back.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime

import pytest
from lxml import etree

from adapters.cda_toolkit import CdaRenderError, payloads, read_bytes, render_report
from adapters.domain import (
    ClinicalContent,
    Coding,
    ContactPoint,
    HumanName,
    Identifier,
    Referral,
    ReferralAttachment,
    ReferralRequester,
    ReferralStatus,
    RequestingOrganisation,
    RequestingPractitioner,
    TriageOutcome,
)
from tests.contract.builders import sample_patient
from tests.itk.test_cda_read import (
    EXPECTED,
    RECEIVED,
    Expected,
    accepted,
    sample_document,
    sample_root,
)

HL7 = "urn:hl7-org:v3"
DX = "https://fhir.nhs.uk/CodeSystem/pathways-dx-codes"
#: The templates every rendered report carries (each is carried by the shared samples).
MANDATORY_TEMPLATES = {
    "COCD_TP145201GB01#PatientRole",
    "COCD_TP145201GB01#patientPatient",
    "COCD_TP145200GB01#AssignedAuthor",
    "COCD_TP145200GB01#representedOrganization",
    "COCD_TP145018UK03#AssignedCustodian",
    "COCD_TP145018UK03#representedCustodianOrganization",
    "COCD_TP145203GB03#IntendedRecipient",
    "COCD_TP145203GB03#representedOrganization",
    "COCD_TP146232GB01#EncompassingEncounter",
    "COCD_TP146246GB01#Section1",
}


def without_document(referral: Referral) -> Referral:
    """The referral minus the CDA it was read from, as a BaRS-made referral would be."""
    kept = tuple(a for a in referral.clinical.attachments if a.kind != "document")
    return referral.model_copy(
        update={"clinical": referral.clinical.model_copy(update={"attachments": kept})}
    )


def round_trip(referral: Referral, recipient_name: str | None = None) -> Referral:
    body = render_report(referral, recipient_name=recipient_name)
    reading = read_bytes(body, received_at=RECEIVED)
    assert reading.problems == (), reading.problems
    assert reading.referral is not None
    return reading.referral


def bars_referral() -> Referral:
    """A referral as the BaRS door makes one: codes, FHIR attachments, no CDA."""
    return Referral(
        id="3b5c9e2a-1f1d-4c55-9a8e-2d7f1c0b6a41",
        version=2,
        status=ReferralStatus.ACTIVE,
        patient=sample_patient().model_copy(
            update={
                "nhs_number_verification": "01",
                "local_identifier": Identifier(system="https://trust.example/mrn", value="M42"),
                "telecom": (
                    ContactPoint(system="phone", value="07700900123", use="mobile"),
                    ContactPoint(system="email", value="p@example.org"),
                ),
            }
        ),
        service_id="2000006423",
        reason=(
            Coding(system="http://snomed.info/sct", code="21522001", display="Abdominal pain"),
        ),
        reason_text="Abdominal pain since this morning",
        triage=TriageOutcome(
            disposition=Coding(system=DX, code="DX02", display="Attend ED within 1 hour"),
            codes=(Coding(system="https://fhir.nhs.uk/CodeSystem/pathways-sg-codes", code="1010"),),
            text="No heavy bleeding.\nPain interferes with activity.",
        ),
        clinical=ClinicalContent(
            summary="Abdominal pain, fever",
            patient_instruction="Do not eat or drink until seen.",
            attachments=(
                ReferralAttachment(
                    kind="QuestionnaireResponse",
                    identifier="urn:uuid:8c0e7d56-3a1c-4a7e-9bcb-5f6f3e2d1a10",
                    content_type="application/fhir+json",
                    data=json.dumps(
                        {"resourceType": "QuestionnaireResponse", "status": "completed"}
                    ),
                ),
            ),
        ),
        requester=ReferralRequester(
            organisation=RequestingOrganisation(ods_code="RYE", name="SCAS 111"),
            practitioner=RequestingPractitioner(
                id="555",
                identifiers=(
                    Identifier(system="urn:oid:2.16.840.1.113883.2.1.3.2.4.18.24", value="555"),
                ),
                name=HumanName(family="Nurse", given=("Nina",)),
            ),
        ),
        sender_identifier=Identifier(system="https://sender.example/referrals", value="REF-7"),
        appointment_id="b9f1e2d3-0000-4000-8000-000000000001",
        category=Coding(
            system="https://fhir.nhs.uk/CodeSystem/usecases-categories-bars", code="a1t1"
        ),
        authored=datetime(2026, 1, 5, 9, 12, 30, tzinfo=UTC),
    )


def templates(body: bytes) -> set[str]:
    root = etree.fromstring(body)
    return {str(t.get("extension")) for t in root.iter(f"{{{HL7}}}templateId")}


def sample_templates() -> set[str]:
    found: set[str] = set()
    for want in EXPECTED:
        for payload in payloads(sample_root(want.file)):
            assert payload.document is not None
            found |= templates(etree.tostring(payload.document))
    return found


def test_a_referral_read_from_a_cda_is_rendered_as_that_cda_unchanged() -> None:
    """The ITK-received report reaches an ITK provider byte for byte as it was kept."""
    referral = accepted(sample_document("ic24-itk-ooh-referral-dx06-itk-request.xml"))
    kept = next(a for a in referral.clinical.attachments if a.kind == "document")
    assert render_report(referral) == base64.b64decode(kept.data or "")


@pytest.mark.parametrize("want", EXPECTED, ids=lambda e: f"{e.file}[{e.payload}]")
def test_render_then_read_keeps_every_canonical_field_of_each_sample(want: Expected) -> None:
    """Each sample's referral, rendered without its CDA and read back, is the same referral."""
    referral = without_document(accepted(sample_document(want.file, want.payload)))
    assert without_document(round_trip(referral)) == referral


def test_a_bars_referral_rendered_and_read_back_keeps_every_canonical_field() -> None:
    """A BaRS referral (reason codes, category, own identifier, FHIR attachments) survives."""
    referral = bars_referral()
    back = round_trip(referral, recipient_name="Royal South Hants UTC")
    made = {a.kind for a in back.clinical.attachments} - {
        a.kind for a in referral.clinical.attachments
    }
    assert made == {"Encounter", "document"}  # the encounter and the CDA itself
    kept = tuple(a for a in back.clinical.attachments if a.kind not in made)
    assert kept == referral.clinical.attachments
    assert back.document_identifier is not None
    same = back.model_copy(
        update={
            "id": referral.id,
            "version": referral.version,
            "document_identifier": None,
            "clinical": back.clinical.model_copy(update={"attachments": kept}),
        }
    )
    assert same == referral


def test_a_rendered_report_is_well_formed_and_carries_the_samples_templates() -> None:
    """The rendered CDA parses, is a POCD_MT200001GB02 report and uses only sample templates."""
    body = render_report(bars_referral())
    assert body.startswith(b"<?xml version='1.0' encoding='UTF-8'?>")
    root = etree.fromstring(body)
    assert root.tag == f"{{{HL7}}}ClinicalDocument"
    kind = root.find("{NPFIT:HL7:Localisation}messageType")
    assert kind is not None and kind.get("extension") == "POCD_MT200001GB02"
    dx = root.find(f".//{{{HL7}}}dischargeDispositionCode")
    assert dx is not None and dx.get("code") == "Dx02"  # Pathways' own spelling
    found = templates(body)
    assert found >= MANDATORY_TEMPLATES
    assert found <= sample_templates()


def test_rendering_twice_gives_the_same_document() -> None:
    """Ids the renderer makes are named from the referral: a resend is the same report."""
    assert render_report(bars_referral()) == render_report(bars_referral())


def test_a_new_version_of_a_referral_is_a_new_document_of_the_same_set() -> None:
    """Version 3 of a referral renders with versionNumber 3, the same setId and a new id."""
    first = etree.fromstring(render_report(bars_referral()))
    later = etree.fromstring(render_report(bars_referral().model_copy(update={"version": 3})))
    for doc, version in ((first, "2"), (later, "3")):
        number = doc.find(f"{{{HL7}}}versionNumber")
        assert number is not None and number.get("value") == version
    set_ids = {d.find(f"{{{HL7}}}setId").get("root") for d in (first, later)}  # type: ignore[union-attr]
    doc_ids = {d.find(f"{{{HL7}}}id").get("root") for d in (first, later)}  # type: ignore[union-attr]
    assert len(set_ids) == 1 and len(doc_ids) == 2


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"triage": None}, "triage.disposition"),
        ({"requester": ReferralRequester()}, "requester.organisation"),
        ({"reason_text": "bell \x07 character"}, "a value cannot be written as XML"),
    ],
)
def test_a_referral_that_cannot_be_a_111_report_is_refused_naming_the_field(
    change: dict[str, object], field: str
) -> None:
    """No Dx disposition, no authoring organisation or unwritable text: a named refusal."""
    with pytest.raises(CdaRenderError, match=field.replace(".", r"\.")):
        render_report(bars_referral().model_copy(update=change))
