"""Every published BaRS example, classified: what a receiver of applications 1-2 does with it.

``TABLE`` has one row per file of ``../shared/spec/bars/examples`` (a new file fails
``test_the_table_covers_every_example``). Kinds:

- ``APP``: a message of BaRS-APP1/APP2 (use cases a1t*/a2t*) that we receive: sent,
  accepted, and what was stored read back;
- ``CARRIED``: a standalone resource: carried inside a referral message, kept, read back;
- ``SHAPE``: the CapabilityStatement and the Slot searchset: ours have their shape;
- ``OTHER``: a message of another application or a response: sent as published (the
  patient's NHS number made valid) and answered as ``expect`` says;
- ``ERROR``: an error example: its situation produced, its status and code answered.

The readings behind ``OTHER`` are in docs/spec-choices.md, "BaRS examples and
reference sender".
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Kind(enum.Enum):
    APP = "a"
    CARRIED = "b"
    SHAPE = "c"
    OTHER = "d"
    ERROR = "e"


@dataclass(frozen=True, slots=True)
class Expect:
    """The answer: status, REC code and issue code (None for a 2xx message answer)."""

    status: int
    rec: str | None = None
    issue: str | None = None


ACCEPTED = Expect(200)
#: A servicerequest-response (or another event) is the sender's, not the receiver's to take.
NOT_RECEIVED = Expect(422, "REC_UNPROCESSABLE_ENTITY", "not-supported")
#: An update naming a ServiceRequest id this receiver never gave (no read before write).
UNKNOWN_REFERRAL = Expect(404, "REC_NOT_FOUND", "not-found")


@dataclass(frozen=True, slots=True)
class Row:
    kind: Kind
    reason: str
    expect: Expect | None = None


def _other(reason: str, expect: Expect) -> Row:
    return Row(Kind.OTHER, reason, expect)


_OTHER_REFERRAL = "servicerequest-request of another application: a referral is taken and kept"
_UPDATE = "reason update/delete naming the sender's ServiceRequest id, never given here: 404"
_RESPONSE = "servicerequest-response: answered to a sender's own endpoint, not received here"
_FLAG = "a Flag, carried by a referral (supportingInfo)"
_LOCATION = "a Location, carried by a referral"
_OBSERVATION = "an Observation, carried by a referral"

TABLE: dict[str, Row] = {
    # (a) applications 1-2
    "BOOKREQ01_-_Booking_Request_New_Full.xml": Row(Kind.APP, "APP1 booking-request, new (a1t1)"),
    "BOOKREQ02_-_Booking_Request_Cancelled.xml": Row(Kind.APP, "APP1 booking-request cancelled"),
    "REFREQ01_-_Referral_Service_Request_New_Full_-_111_to_ED.xml": Row(
        Kind.APP, "APP1 servicerequest-request 111 to ED (a1t1)"
    ),
    # (b) standalone resources
    "BirthSex_Observation.xml": Row(Kind.CARRIED, _OBSERVATION),
    "EstAge_Observation1.xml": Row(Kind.CARRIED, _OBSERVATION),
    "OBSV03_-_BMI.xml": Row(Kind.CARRIED, _OBSERVATION),
    "OBSV03_-_Blood_Pressure.xml": Row(Kind.CARRIED, _OBSERVATION),
    "CONS01_-_Consent_-_Direct_Care.xml": Row(Kind.CARRIED, "the Consent of a referral"),
    "Condition-Vomiting-Disorder.xml": Row(Kind.CARRIED, "a Condition, carried by a referral"),
    "FLA01_-_Flag_-_Rejected_Services.xml": Row(Kind.CARRIED, _FLAG),
    "FLA02_-_Flag_-_Reasonable_Adjustment.xml": Row(Kind.CARRIED, _FLAG),
    "FLA03_-_Flag_-_Reasonable_Adjustment2.xml": Row(Kind.CARRIED, _FLAG),
    "FLA04_-_Flag_-_Scene_Safe.xml": Row(Kind.CARRIED, _FLAG),
    "FLA05_-_Flag_-_Scene_Safe2.xml": Row(Kind.CARRIED, _FLAG),
    "FLA06_-_Safeguarding_Concern.xml": Row(Kind.CARRIED, _FLAG),
    "FLA07_-_ReSPECT.xml": Row(Kind.CARRIED, _FLAG),
    "FLA08_-_Clinically_Vulnerable.xml": Row(Kind.CARRIED, _FLAG),
    "FLA09_-_Psychological.xml": Row(Kind.CARRIED, _FLAG),
    "FLA10_-_SafeguardingConcernMulti.xml": Row(Kind.CARRIED, _FLAG),
    "FLAG11_-_Additional_Patient_Informantion.xml": Row(Kind.CARRIED, _FLAG),
    "FLAG12_-_Agency_Contacted.xml": Row(Kind.CARRIED, _FLAG),
    "LOC2_-_Location_-_Caller_Location.xml": Row(Kind.CARRIED, _LOCATION),
    "LOC3_-_Location_-_Rendevous_Location.xml": Row(Kind.CARRIED, _LOCATION),
    "LOC4_-_Location_-_Other_Location.xml": Row(Kind.CARRIED, _LOCATION),
    "Location_-_Incident_Location.xml": Row(Kind.CARRIED, _LOCATION),
    "Patient_relationship_to_Self.xml": Row(Kind.CARRIED, "the Patient a referral is for"),
    "QuestionnaireResponse_for_NOC.xml": Row(Kind.CARRIED, "a QuestionnaireResponse, carried"),
    "QuestionnaireResponse_for_PTS.xml": Row(Kind.CARRIED, "a QuestionnaireResponse, carried"),
    "Questionnaire_for_NOC.xml": Row(Kind.CARRIED, "the Questionnaire answered, carried"),
    "Questionnaire_for_PTS.xml": Row(Kind.CARRIED, "the Questionnaire answered, carried"),
    "REL01_-_RelatedPerson_-_Next_of_Kin.xml": Row(Kind.CARRIED, "a RelatedPerson, carried"),
    "Task-Community_Pharmacist_Consultation_Service_for_minor_illness_(procedure).xml": Row(
        Kind.CARRIED, "a Task, carried by a referral"
    ),
    # (c) shapes
    "BARS-CapabilityStatement-example.xml": Row(Kind.SHAPE, "GET /metadata has its shape"),
    "BOOKREQRESP01_-_Booking_Slot_Searchset_Response.xml": Row(
        Kind.SHAPE, "GET /Slot with the _include set has its shape"
    ),
    # (d) other applications and responses
    "REFREQ02_-_Referral_Service_Request_New_Full_-_999_to_CAS.xml": _other(
        _OTHER_REFERRAL + " (a3t1)", ACCEPTED
    ),
    "REFREQ03_-_Referral_Service_Request_New_Full_-_Primary_Care_to_Community_Pharmacy_"
    "-_Minor_Illness.xml": _other(_OTHER_REFERRAL + " (a5t1)", ACCEPTED),
    "REFREQ04_-_Referral_Service_Request_-_CAD_Out_of_Area.xml": _other(
        _OTHER_REFERRAL + " (a6t1)", ACCEPTED
    ),
    "REFREQ05_-_Referral_Service_Request_-_CAD_Mutal_Aid_Request.xml": _other(
        _OTHER_REFERRAL + " (a6t3)", ACCEPTED
    ),
    "REFREQ06_-_Referral_Service_Request_New_Full_-_GP_to_BP_-_ABPM.xml": _other(
        _OTHER_REFERRAL + " (a5t3)", ACCEPTED
    ),
    "REFREQ07_-_Referral_Service_Request_New_Full_-_GP_to_OC.xml": _other(
        _OTHER_REFERRAL + " (a5t2)", ACCEPTED
    ),
    "REFREQ10_-_Referral_Service_Request_-_CAD_Out_of_Area_C4(1_of_1).xml": _other(
        _OTHER_REFERRAL + " (a6t1)", ACCEPTED
    ),
    "REFREQ11_-_Referral_Service_Request_-_Internal_broker_-_AandG_To_e-RS.xml": _other(
        _OTHER_REFERRAL + " (a8t1)", ACCEPTED
    ),
    "REFREQ8A_-_Referral_Service_Request_-_CAD_Out_of_Area_C1(1_of_4_-_Initial).xml": _other(
        "CAD referral whose Patient has no gender: our referral's patient needs one, 400 naming "
        "Patient.gender",
        Expect(400, "REC_BAD_REQUEST", "value"),
    ),
    "REFREQ8B_-_Referral_Service_Request_-_CAD_Out_of_Area_C1(2_of_4_-_Update).xml": _other(
        _UPDATE, UNKNOWN_REFERRAL
    ),
    "REFREQ8C_-_Referral_Service_Request_-_CAD_Out_of_Area_C1(3_of_4_-_Update).xml": _other(
        _UPDATE, UNKNOWN_REFERRAL
    ),
    "REFREQ8D_-_Referral_Service_Request_-_CAD_Out_of_Area_C1(4_of_4_-_Final_Update).xml": _other(
        _UPDATE, UNKNOWN_REFERRAL
    ),
    "REFREQ9A_-_Referral_Service_Request_-_CAD_Out_of_Area_C2(1_of_3_-_Initial).xml": _other(
        _OTHER_REFERRAL + " (a6t1; its updates follow once they name the id given)", ACCEPTED
    ),
    "REFREQ9A_-_Referral_Service_Request_-_CAD_Out_of_Area_C2(2_of_3_-_Update).xml": _other(
        _UPDATE, UNKNOWN_REFERRAL
    ),
    "REFREQ9A_-_Referral_Service_Request_-_CAD_Out_of_Area_C2(3_of_3_-_Final_Update).xml": _other(
        _UPDATE, UNKNOWN_REFERRAL
    ),
    "REFRESP01_-_Referral_Service_Request_Response_New_Full_-_ED_to_111_Safeguarding_DNA_"
    "Feedback.xml": _other(_RESPONSE + " (a1t1: the APP1 sender's)", NOT_RECEIVED),
    "REFRESP02-_Referral_Service_Request_Reponse_Short_-_CAD_Mutual_Aid_Rejection.xml": _other(
        _RESPONSE, NOT_RECEIVED
    ),
    "REFRESP03_-_Referral_Service_Request_Response_-_CAD_Out_of_Area_Response.xml": _other(
        _RESPONSE, NOT_RECEIVED
    ),
    "SERVREQ01_-_Service_Request_Update_-_Revoked.xml": _other(_UPDATE, UNKNOWN_REFERRAL),
    "SERVREQ02_-_Service_Request_Delete_-_Entered_in_error.xml": _other(_UPDATE, UNKNOWN_REFERRAL),
    "VALREQ01_-_Validation_Service_Request_New_Full_-_999_to_CAS.xml": _other(
        _OTHER_REFERRAL + " (a4t1 validation)", ACCEPTED
    ),
    "VALREQ02_-_Validation_Service_Request_Update_Full_-_999_to_CAS_Lower_Priority.xml": _other(
        _UPDATE, UNKNOWN_REFERRAL
    ),
    "VALREQ03_-_Validation_Service_Request_New_Full_AMPDS_-_999_to_CAS.xml": _other(
        _OTHER_REFERRAL + " (a4t1 validation)", ACCEPTED
    ),
    "VALRESP01_-_Validation_Response_HTTP_Response_Acknowledgment_-_CAS_to_999_Planned_"
    "(0_of_2).xml": _other(
        "named a response, but its event is servicerequest-request, reason new: taken", ACCEPTED
    ),
    "VALRESP01A_-_Validation_Response_New_Interim_-_CAS_to_999_In-progress_(1_of_2).xml": (
        _other(_RESPONSE, NOT_RECEIVED)
    ),
    "VALRESP01B_-_Validation_Response_Update_Full_-_CAS_to_999_Finished_(2_of_2).xml": _other(
        _RESPONSE, NOT_RECEIVED
    ),
    "VALRESP02_-_Validation_Response_New_Full_-_CAS_to_999_Finished.xml": _other(
        _RESPONSE, NOT_RECEIVED
    ),
    "VALRESP03_-_Validation_Response_New_Full_-_CAS_to_999_Finished_Inc_New_CADid_Cat_1-2.xml": (
        _other(_RESPONSE, NOT_RECEIVED)
    ),
    "VALRESP04_-_Validation_Response_Interim_-_Reject_Validation_Request.xml": _other(
        _RESPONSE, NOT_RECEIVED
    ),
    "VALRESP05_-_Validation_Response_-_Falls_to_999_Finished_copy.xml": _other(
        _RESPONSE, NOT_RECEIVED
    ),
    # (e) errors: the situation is named in tests/bars/test_examples.py (ERROR_SITUATIONS)
    "400BadRequest.json": Row(
        Kind.ERROR,
        "a message failing validation: a receiver answers REC_BAD_REQUEST (SEND_* is the "
        "proxy's code for the sender's own request), issue invariant as the example",
        Expect(400, "REC_BAD_REQUEST", "invariant"),
    ),
    "401Unauthorised.json": Row(
        Kind.ERROR,
        "a sender off the service's allow-list: 401 REC_UNAUTHORIZED (issue forbidden, as "
        "api/examples 401-REC_UNAUTHORIZED-forbidden; this example says security)",
        Expect(401, "REC_UNAUTHORIZED", "forbidden"),
    ),
    "409Conflict.json": Row(
        Kind.ERROR, "the same X-Request-Id sent again", Expect(409, "REC_CONFLICT", "duplicate")
    ),
    "500ServerError.json": Row(
        Kind.ERROR,
        "an unexpected fault inside the supplier's adapter",
        Expect(500, "REC_SERVER_ERROR", "exception"),
    ),
}


def of_kind(kind: Kind) -> list[str]:
    return sorted(name for name, row in TABLE.items() if row.kind is kind)
