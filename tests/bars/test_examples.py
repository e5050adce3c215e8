"""Every published BaRS example (../shared/spec/bars/examples, read at run time) through the door.

``tests/bars/examples_table.py`` classifies each file; these tests do with each what its
row says, over real sockets against a gateway on the embedded diary, and read back
what was stored. The error examples of api/examples/OperationOutcome/REC are produced
too (``REC_SITUATIONS``).
"""

from __future__ import annotations

import json
import uuid
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from adapters.bars_toolkit import messages
from adapters.bars_toolkit.headers import Target
from adapters.domain import ClinicalContent, ReferralAttachment
from gateway.bars import messaging_referral as referral_messages
from gateway.bars_sender import journeys
from gateway.examples import EXAMPLE_NHS_NUMBER
from gateway.http.exchange import STORE
from tests.bars import examples_table as t
from tests.bars.conftest import BARS_ROOT_PATH, Doors, Sender, Start
from tests.bars.example_situations import (
    ERROR_SITUATIONS,
    EXAMPLES,
    OTHER_BAD_NHS_NUMBER,
    REC_EXAMPLES,
    REC_SITUATIONS,
    as_json,
    example_path,
    published,
)
from tests.bars.test_process_message_booking import CANCELLED, NEW, example, focus, post, rec
from tests.bars.test_referrals import EXAMPLE_BAD_NHS_NUMBER
from tests.samples import absent

Json = dict[str, Any]
NHS = "https://fhir.nhs.uk/Id/nhs-number"
REFERRAL = "REFREQ01_-_Referral_Service_Request_New_Full_-_111_to_ED.xml"
_MAPPED = {"MessageHeader", "ServiceRequest", "Patient"}


def _resources(bundle: Json, kind: str) -> list[Json]:
    return [
        e["resource"] for e in bundle.get("entry") or [] if e["resource"]["resourceType"] == kind
    ]


async def _read(sender: Sender, path: str) -> Json:
    resp = await sender.get(path)
    assert resp.status == 200, await resp.text()
    data: Json = await resp.json(content_type=None)
    return data


def test_the_table_covers_every_example() -> None:
    """Each file of the examples folder has one row with a reason; a new file fails here."""
    if not EXAMPLES.is_dir():
        pytest.skip(absent(EXAMPLES))
    assert {p.name for p in EXAMPLES.iterdir()} == set(t.TABLE)
    for name, row in t.TABLE.items():
        assert row.reason, name
        assert (row.expect is not None) == (row.kind in (t.Kind.OTHER, t.Kind.ERROR)), name


# (a) messages of applications 1-2 -------------------------------------------------------


async def test_the_app1_booking_examples_book_cancel_and_read_back(doors: Doors) -> None:
    """BOOKREQ01 books a live slot and BOOKREQ02 cancels it; each reads back as stored."""
    assert t.TABLE[NEW].kind is t.TABLE[CANCELLED].kind is t.Kind.APP
    slot = (await doors.bars.free_slots())[0]
    status, answer, _ = await post(doors.bars, example(NEW, slot))
    assert status == 200, answer
    booked = await _read(doors.bars, f"/Appointment/{focus(answer)['id']}")
    assert booked["status"] == "booked" and booked["meta"]["versionId"] == "1"
    assert booked["slot"] == [{"reference": f"Slot/{slot['id']}"}]
    assert (booked["start"], booked["end"]) == (slot["start"], slot["end"])
    (patient,) = booked["contained"]
    assert patient["identifier"][0]["value"] == "9476719931"
    assert patient["name"][0]["family"] == "Chalmers"
    status, answer, _ = await post(doors.bars, example(CANCELLED, slot))
    assert status == 200, answer
    cancelled = await _read(doors.bars, f"/Appointment/{booked['id']}")
    assert cancelled["status"] == "cancelled" and cancelled["meta"]["versionId"] == "2"


async def test_the_app1_referral_example_is_kept_whole(doors: Doors) -> None:
    """REFREQ01 is accepted; the ServiceRequest reads back and every other resource is kept."""
    assert t.TABLE[REFERRAL].kind is t.Kind.APP
    status, answer, _ = await post(doors.bars, published(REFERRAL))
    assert status == 200, answer
    stored_id = _resources(answer, "ServiceRequest")[0]["id"]
    read = await _read(doors.bars, f"/ServiceRequest/{stored_id}")
    assert read["status"] == "active" and read["subject"]["reference"]
    held = await doors.bars.client.app[STORE].get_referral(stored_id)
    assert held is not None
    sent = json.loads(json.dumps(as_json(REFERRAL)))
    expected = Counter(
        e["resource"]["resourceType"]
        for e in sent["entry"]
        if e["resource"]["resourceType"] not in _MAPPED
    )
    assert Counter(a.kind for a in held.referral.clinical.attachments) == expected


# (b) standalone resources, carried by a referral ------------------------------------------


def _target(sender: Sender) -> Target:
    return Target(sender.target["system"], sender.target["value"])


def _referral_carrying(sender: Sender, *resources: Json) -> Json:
    """A referral message (adapters.bars_toolkit) carrying ``resources`` as supportingInfo."""
    referral = journeys.referral(sender.target["value"], EXAMPLE_NHS_NUMBER)
    attachments = tuple(
        ReferralAttachment(
            kind=str(resource["resourceType"]),
            identifier=f"urn:uuid:{uuid.uuid4()}",
            content_type="application/fhir+json",
            data=json.dumps(resource),
        )
        for resource in resources
    )
    referral = referral.model_copy(update={"clinical": ClinicalContent(attachments=attachments)})
    return messages.referral_request(
        journeys.envelope(sender.ods, _target(sender), "X26"), referral
    )


CARRIED = [n for n in t.of_kind(t.Kind.CARRIED) if n != "Patient_relationship_to_Self.xml"]


@pytest.mark.parametrize("name", CARRIED)
async def test_a_standalone_resource_is_carried_by_a_referral_and_kept(
    doors: Doors, name: str
) -> None:
    """The resource travels in a servicerequest-request; the stored referral holds it unchanged."""
    resource = as_json(name)
    message = _referral_carrying(doors.bars, resource)
    sent = messages.entries_of(message, resource["resourceType"])[-1]
    status, answer, _ = await post(doors.bars, message)
    assert status == 200, answer
    stored_id = _resources(answer, "ServiceRequest")[0]["id"]
    held = await doors.bars.client.app[STORE].get_referral(stored_id)
    assert held is not None
    kept = [json.loads(a.data or "{}") for a in held.referral.clinical.attachments]
    assert sent in kept
    assert {k: v for k, v in sent.items() if k != "meta"} == {
        k: v for k, v in resource.items() if k != "meta"
    }, "the clinical content is the example's"


async def test_the_patient_example_is_the_patient_a_referral_is_for(doors: Doors) -> None:
    """Patient_relationship_to_Self as a referral's Patient: it reads back by its NHS number."""
    name = "Patient_relationship_to_Self.xml"
    assert t.TABLE[name].kind is t.Kind.CARRIED
    patient = json.loads(
        json.dumps(as_json(name)).replace(EXAMPLE_BAD_NHS_NUMBER.decode(), EXAMPLE_NHS_NUMBER)
    )
    message = _referral_carrying(doors.bars)
    entry = next(e for e in message["entry"] if e["resource"]["resourceType"] == "Patient")
    entry["resource"] = {
        **patient,
        "meta": {**patient["meta"], "lastUpdated": message["timestamp"]},
    }
    status, answer, _ = await post(doors.bars, message)
    assert status == 200, answer
    query = f"/ServiceRequest?patient:identifier={NHS}|{EXAMPLE_NHS_NUMBER}"
    (read,) = _resources(await _read(doors.bars, query), "Patient")
    assert read["name"][0]["family"] == patient["name"][0]["family"] == "Jones"
    assert read["birthDate"] == patient["birthDate"] and read["gender"] == patient["gender"]


# (c) the CapabilityStatement and the Slot searchset ----------------------------------------

CAPABILITY = "BARS-CapabilityStatement-example.xml"
SEARCHSET = "BOOKREQRESP01_-_Booking_Slot_Searchset_Response.xml"
PROCESS_MESSAGE = "http://hl7.org/fhir/OperationDefinition/MessageHeader-process-message"
_FORMATS = {"json": "json", "xml": "xml", "application/fhir+json": "json"}
_FORMATS["application/fhir+xml"] = "xml"


def _rest_resources(statement: Json) -> dict[str, Json]:
    return {r["type"]: r for r in statement["rest"][0]["resource"]}


def _receives(statement: Json) -> set[str]:
    return {
        m["definition"]
        for m in statement["messaging"][0]["supportedMessage"]
        if m["mode"] == "receiver"
    }


async def test_metadata_has_the_capability_statement_examples_shape(doors: Doors) -> None:
    """GET /metadata matches the example in kind, version, formats, messaging and REST."""
    assert t.TABLE[CAPABILITY].kind is t.Kind.SHAPE
    ours, theirs = await _read(doors.bars, "/metadata"), as_json(CAPABILITY)
    for key in ("resourceType", "status", "kind", "fhirVersion"):
        assert ours[key] == theirs[key], key
    assert {_FORMATS[f] for f in ours["format"]} == {_FORMATS[f] for f in theirs["format"]}
    endpoint = ours["messaging"][0]["endpoint"][0]
    assert endpoint["protocol"]["code"] == theirs["messaging"][0]["endpoint"][0]["protocol"]["code"]
    assert endpoint["address"].endswith(BARS_ROOT_PATH)
    assert _receives(ours) <= _receives(theirs), "only the example's MessageDefinitions"
    assert {messages.BOOK_DEFINITION, messages.CANCEL_DEFINITION} <= _receives(ours)
    assert {referral_messages.REFERRAL.url, referral_messages.CANCEL.url} <= _receives(ours)
    rest, example_rest = ours["rest"][0], theirs["rest"][0]
    assert rest["mode"] == example_rest["mode"] == "server"
    assert "security" not in rest, "no mutual TLS in this gateway: no certificates stated"
    assert [o["definition"] for o in rest["operation"]] == [PROCESS_MESSAGE]
    assert [o["name"] for o in example_rest["operation"]] == ["$process-message"]
    mine, published_rest = _rest_resources(ours), _rest_resources(theirs)
    assert {"Slot", "Appointment", "ServiceRequest", "MessageDefinition"} <= set(mine)
    slot, example_slot = mine["Slot"], published_rest["Slot"]
    assert {p["name"] for p in slot["searchParam"]} == {
        p["name"] for p in example_slot["searchParam"]
    }
    # The example's "HealthcareService.providedBy" is written with a colon, as FHIR says.
    wanted = {
        i.replace("HealthcareService.", "HealthcareService:") for i in example_slot["searchInclude"]
    }
    assert set(slot["searchInclude"]) == wanted
    for kind in ("Appointment", "ServiceRequest"):
        codes = {i["code"] for i in mine[kind]["interaction"]}
        assert {"read", "search-type"} <= codes, kind
        assert "patient:identifier" in {p["name"] for p in mine[kind]["searchParam"]}


#: Elements of the example's resources our diary does not hold, and why.
NOT_HELD = {
    "Slot": {"appointmentType", "serviceCategory"},  # no such fields in the canonical Slot
    "Schedule": {"identifier", "serviceCategory", "serviceType"},  # nor in its Schedule
    "Location": {"position"},  # no coordinates in the canonical Location
    "PractitionerRole": set(),
    "Practitioner": set(),
    "HealthcareService": set(),
}
ALL_INCLUDES = (
    "Slot:schedule",
    "Schedule:actor:HealthcareService",
    "Schedule:actor:Practitioner",
    "Schedule:actor:PractitionerRole",
    "HealthcareService:location",
    "HealthcareService:providedBy",
)


def _elements(bundle: Json) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for entry in bundle["entry"]:
        resource = entry["resource"]
        out.setdefault(resource["resourceType"], set()).update(resource)
    return out


def _resolves(bundle: Json, reference: str) -> Json | None:
    for entry in bundle["entry"]:
        resource = entry["resource"]
        if entry["fullUrl"] == reference or entry["fullUrl"].endswith("/" + reference):
            return dict(resource)
    return None


async def test_slot_search_has_the_searchset_examples_shape(doors: Doors) -> None:
    """GET /Slot with the _include set answers what BOOKREQRESP01 holds, element by element."""
    assert t.TABLE[SEARCHSET].kind is t.Kind.SHAPE
    theirs = as_json(SEARCHSET)
    window = journeys.Window().params(datetime.now(UTC))[:3]
    params = [*window, *(("_include", i) for i in ALL_INCLUDES)]
    resp = await doors.bars.client.get(
        f"{BARS_ROOT_PATH}/Slot", params=params, headers=doors.bars.headers()
    )
    assert resp.status == 200
    ours = await resp.json(content_type=None)
    for key in ("resourceType", "type"):
        assert ours[key] == theirs[key]
    assert ours["meta"]["profile"] == theirs["meta"]["profile"]
    assert isinstance(ours["total"], int) and ours["link"][0]["relation"] == "self"
    mine, published_kinds = _elements(ours), _elements(theirs)
    for kind, elements in published_kinds.items():
        assert kind in mine, kind
        missing = elements - mine[kind] - NOT_HELD[kind]
        assert not missing, f"{kind} lacks {missing}"
    for slot in _resources(ours, "Slot"):
        assert slot["status"] == "free"
        schedule = _resolves(ours, slot["schedule"]["reference"])
        assert schedule is not None and schedule["resourceType"] == "Schedule"
        actors = [_resolves(ours, a["reference"]) for a in schedule["actor"]]
        assert "HealthcareService" in {a["resourceType"] for a in actors if a}
    modes = {e["resource"]["resourceType"]: e["search"]["mode"] for e in ours["entry"]}
    assert modes.pop("Slot") == "match" and set(modes.values()) == {"include"}


# (d) other applications and responses ------------------------------------------------------


@pytest.mark.parametrize("name", t.of_kind(t.Kind.OTHER))
async def test_another_applications_message_is_answered_as_the_table_says(
    doors: Doors, name: str
) -> None:
    """Sent as published (NHS number made valid): accepted and stored, or the row's error."""
    expect = t.TABLE[name].expect
    assert expect is not None
    status, answer, _ = await post(doors.bars, published(name))
    assert status == expect.status, answer
    if expect.rec is None:
        assert answer["entry"][0]["resource"]["response"]["code"] == "ok"
        stored = _resources(answer, "ServiceRequest")[0]
        assert (await _read(doors.bars, f"/ServiceRequest/{stored['id']}"))["id"] == stored["id"]
    else:
        assert rec(answer)[:2] == (expect.rec, expect.issue)


CAD = "REFREQ9A_-_Referral_Service_Request_-_CAD_Out_of_Area_C2({}"
CAD_CHAIN = ("1_of_3_-_Initial).xml", "2_of_3_-_Update).xml", "3_of_3_-_Final_Update).xml")


async def test_a_cad_referrals_updates_apply_once_they_name_the_id_given(doors: Doors) -> None:
    """REFREQ9A 1-3: the updates, naming the id the first answer gave (read before write), apply."""
    status, answer, _ = await post(doors.bars, published(CAD.format(CAD_CHAIN[0])))
    assert status == 200, answer
    stored = _resources(answer, "ServiceRequest")[0]
    for number, part in enumerate(CAD_CHAIN[1:], start=2):
        message = json.loads(json.dumps(as_json(CAD.format(part))))
        text = json.dumps(message).replace(OTHER_BAD_NHS_NUMBER.decode(), EXAMPLE_NHS_NUMBER)
        message = json.loads(text)
        request = messages.focus_of(message)
        request["id"] = stored["id"]
        request.setdefault("meta", {})["versionId"] = stored["meta"]["versionId"]
        status, answer, _ = await post(doors.bars, message)
        assert status == 200, answer
        stored = _resources(answer, "ServiceRequest")[0]
        assert stored["meta"]["versionId"] == str(number)
    read = await _read(doors.bars, f"/ServiceRequest/{stored['id']}")
    assert read["meta"]["versionId"] == "3"


# (e) the error examples: each situation produced --------------------------------------------


def _example_code(path: Path) -> tuple[int, str, str]:
    outcome = json.loads(path.read_text(encoding="utf-8"))
    issue = outcome["issue"][0]
    return int(path.name[:3]), issue["details"]["coding"][0]["code"], issue["code"]


def test_every_rec_example_has_a_row() -> None:
    """Each REC OperationOutcome example is produced or says why no situation produces it."""
    if not REC_EXAMPLES.is_dir():
        pytest.skip(absent(REC_EXAMPLES))
    assert {p.name for p in REC_EXAMPLES.iterdir()} == set(REC_SITUATIONS)


@pytest.mark.parametrize("name", sorted(ERROR_SITUATIONS))
async def test_an_error_examples_situation_is_answered_as_the_example(
    both_doors: Start, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    """The situation behind the example answers the row's status, REC code and issue code."""
    expect = t.TABLE[name].expect
    assert expect is not None
    published_outcome = json.loads(example_path(name).read_text(encoding="utf-8"))
    assert int(name[:3]) == expect.status
    status, outcome = await ERROR_SITUATIONS[name](both_doors, monkeypatch)
    assert status == expect.status, outcome
    assert rec(outcome)[:2] == (expect.rec, expect.issue)
    assert outcome["meta"]["profile"] == published_outcome["meta"]["profile"]
    assert (
        outcome["issue"][0]["details"]["coding"][0]["system"]
        == (published_outcome["issue"][0]["details"]["coding"][0]["system"])
    )


PRODUCED = sorted(n for n, s in REC_SITUATIONS.items() if not isinstance(s, str))


@pytest.mark.parametrize("name", PRODUCED)
async def test_a_rec_examples_situation_answers_its_status_and_codes(
    both_doors: Start, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    """api/examples REC/<status>-<code>-<issue>: the situation answers exactly those."""
    path = REC_EXAMPLES / name
    if not path.exists():
        pytest.skip(absent(path))
    situation = REC_SITUATIONS[name]
    assert not isinstance(situation, str)
    status, outcome = await situation(both_doors, monkeypatch)
    assert (status, *rec(outcome)[:2]) == _example_code(path), outcome
