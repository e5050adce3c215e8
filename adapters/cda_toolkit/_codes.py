"""The code tables of the NHS 111 report (POCD_MT200001GB02) the toolkit reads and writes.

OIDs are the NPfIT ones the samples in ``../shared/samples/itk-cda`` carry; meanings
follow the 111 adaptor's mapping table (``../shared/spec/itk/ITK_FHIR_mapping.md``).
"""

from __future__ import annotations

from adapters.domain import Gender

MESSAGE_TYPE = "POCD_MT200001GB02"
MESSAGE_TYPE_ROOT = "2.16.840.1.113883.2.1.3.2.4.18.17"
TYPE_ID = ("2.16.840.1.113883.1.3", "POCD_HD000040")
TEMPLATE_ROOT = "2.16.840.1.113883.2.1.3.2.4.18.2"
CONTENT_ROOT = "2.16.840.1.113883.2.1.3.2.4.18.16"
SNOMED_OID = "2.16.840.1.113883.2.1.3.2.4.15"
#: ClinicalDocument/code: the report types this reader serves.
DOCUMENT_CODES = {
    "819551000000100": "NHS 111 Report",
    "1066271000000101": "Integrated Urgent Care Report",
}
#: A placeholder some senders write; the messageType says what the document is.
PLACEHOLDER_CODE = "000000000000000"
#: What the canonical referral's whole-document attachment is (the STU3 DocumentReference's).
CDA_CONTENT_TYPE = "application/hl7-v3+xml"

VERIFIED_NHS_NUMBER = "2.16.840.1.113883.2.1.4.1"
UNVERIFIED_NHS_NUMBER = "2.16.840.1.113883.2.1.3.2.4.18.23"
LOCAL_PATIENT_ID = "2.16.840.1.113883.2.1.3.2.4.18.24"
#: CareConnect-NHSNumberVerificationStatus-1: 01 verified, 02 present but not traced.
VERIFICATION = {VERIFIED_NHS_NUMBER: "01", UNVERIFIED_NHS_NUMBER: "02"}
ODS_ORG = "2.16.840.1.113883.2.1.3.2.4.19.1"
ODS_SITE = "2.16.840.1.113883.2.1.3.2.4.19.2"
ODS_SYSTEM = "https://fhir.nhs.uk/Id/ods-organization-code"
SDS_USER = "2.16.840.1.113883.2.1.3.2.4.18.24"

GENDER_SYSTEM = "2.16.840.1.113883.2.1.3.2.4.16.25"
#: NHS Data Dictionary person gender: 0 not known, 1 male, 2 female, 9 not specified.
GENDER_IN = {"0": Gender.UNKNOWN, "1": Gender.MALE, "2": Gender.FEMALE, "9": Gender.OTHER}
GENDER_OUT = {v: k for k, v in GENDER_IN.items()}
GENDER_DISPLAY = {"0": "Not Known", "1": "Male", "2": "Female", "9": "Not Specified"}

ADDRESS_USE_IN = {"H": "home", "HP": "home", "WP": "work", "TMP": "temp"}
ADDRESS_USE_OUT = {"home": "H", "work": "WP", "temp": "TMP"}
TELECOM_USE_IN = {
    "H": "home",
    "HP": "home",
    "HV": "temp",
    "TMP": "temp",
    "WP": "work",
    "MC": "mobile",
}
TELECOM_USE_OUT = {"home": "H", "work": "WP", "temp": "TMP", "mobile": "MC"}
#: telecom/@use EC is the emergency contact's number, not the patient's (RelatedPerson).
EMERGENCY_CONTACT = "EC"
SCHEMES = {"tel:": "phone", "mailto:": "email", "fax:": "fax"}
NAME_USE_IN = {"L": "official"}
NAME_USE_OUT = {"official": "L"}

#: encompassingEncounter/dischargeDispositionCode: the NHS Pathways disposition (Dx) codes.
DISPOSITION_OID = "2.16.840.1.113883.2.1.3.2.4.17.325"
DX_SYSTEM = "https://fhir.nhs.uk/CodeSystem/pathways-dx-codes"
ENCOUNTER_CODE = ("NHS111Encounter", "2.16.840.1.113883.2.1.3.2.4.17.326", "NHS111 Encounter")
#: Code systems of coded entries, as the FHIR URIs the canonical model speaks.
SYSTEMS = {SNOMED_OID: "http://snomed.info/sct", DISPOSITION_OID: DX_SYSTEM}
OIDS = {v: k for k, v in SYSTEMS.items()}

CONSENT_SNOMED = "http://snomed.info/sct"
#: Appointment reference entry (COCD_TP146093GB01) id root.
APPOINTMENT_ROOT = "2.16.840.1.113883.2.1.3.2.4.17.541"

#: Sections read into the referral's own fields, by section code or title words.
REASON = "reason"
SUMMARY = "summary"
ASSESSMENT = "assessment"
ADVICE = "advice"
SECTION_CODES = {"886891000000102": REASON, "1052951000000105": ADVICE}
SECTION_TITLES = (
    ("reported condition", REASON),
    ("primary reason for call", REASON),
    ("consultation summary", SUMMARY),
    ("clinical summary", SUMMARY),
    ("case summary", SUMMARY),
    ("pathways assessment", ASSESSMENT),
    ("triage report", ASSESSMENT),
    ("advice given", ADVICE),
)
#: What render writes for each: (title, SNOMED section code or None).
SECTION_OUT = {
    REASON: ("Patient's Reported Condition", "886891000000102", "Patient Reported Condition"),
    SUMMARY: ("Consultation Summary", None, None),
    ASSESSMENT: ("Pathways Assessment", None, None),
    ADVICE: ("Information And Advice Given", "1052951000000105", "Information And Advice Given"),
}
#: Section titles that flag the patient's record for the receiving clinician.
FLAG_WORDS = ("safeguard", "special patient note", "additional patient note", "alert")


def system_for(oid: str | None) -> str:
    """The FHIR system URI of a code system OID (``urn:oid:`` when not a known one)."""
    if not oid:
        return "urn:oid:unknown"
    if "://" in oid or oid.startswith("urn:"):
        return oid  # a URI where an OID belongs (what render writes for a URI-only system)
    return SYSTEMS.get(oid, f"urn:oid:{oid}")


def oid_for(system: str) -> str:
    """The OID of a FHIR system URI (the inverse of ``system_for``)."""
    if system in OIDS:
        return OIDS[system]
    return system.removeprefix("urn:oid:")
