"""BaRS ``$process-message`` booking-request over real sockets, from the published examples.

The examples are read at run time from ``../shared/spec/bars/examples``. Only their
slot references are changed to a live free slot an hour ahead or later: the Slot
entry's id, start and end, and the Appointment's start and end (the times a slot
reference carries); everything else is sent as published.
"""

from __future__ import annotations

import asyncio
import copy
import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.capabilitystatement import CapabilityStatement
from lxml import etree

from tests.bars.conftest import BARS_ROOT_PATH, DOS, Doors, Sender
from tests.bars.test_peers import PEERS
from tests.samples import ROOT, absent
from tests.selftest import backends as b

EXAMPLES = Path(ROOT.parent / "shared" / "spec" / "bars" / "examples")
NEW = "BOOKREQ01_-_Booking_Request_New_Full.xml"
CANCELLED = "BOOKREQ02_-_Booking_Request_Cancelled.xml"
XML = "application/fhir+xml"
F = {"f": "http://hl7.org/fhir"}
NHS_NUMBER = "9476719931"  # the examples' patient
Json = dict[str, Any]


def example(name: str, slot: Json) -> bytes:
    """A published example with its slot references moved to ``slot``."""
    path = EXAMPLES / name
    if not path.exists():
        pytest.skip(absent(path))
    root = etree.fromstring(path.read_bytes())
    for kind in ("Appointment", "Slot"):
        for resource in root.iterfind(f".//f:{kind}", F):
            for element in ("start", "end"):
                node = resource.find(f"f:{element}", F)
                if node is not None:
                    node.set("value", slot[element])
            if kind == "Slot":
                node = resource.find("f:id", F)
                assert node is not None
                node.set("value", slot["id"])
    return bytes(etree.tostring(root))


def as_json(xml: bytes) -> Json:
    data: Json = json.loads(Bundle.model_validate_xml(xml).model_dump_json(exclude_none=True))
    return data


async def post(sender: Sender, body: bytes | Json, **headers: str) -> tuple[int, Json, Any]:
    kind = XML if isinstance(body, bytes) else "application/fhir+json"
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    resp = await sender.client.post(
        f"{BARS_ROOT_PATH}/$process-message",
        data=data,
        headers=sender.headers(**{"Content-Type": kind, **headers}),
    )
    return resp.status, await resp.json(content_type=None), resp.headers


def focus(answer: Json) -> Json:
    header = answer["entry"][0]["resource"]
    assert header["resourceType"] == "MessageHeader"
    assert header["response"]["code"] == "ok"
    appointment: Json = answer["entry"][1]["resource"]
    assert header["focus"][0]["reference"].endswith(f"/Appointment/{appointment['id']}")
    return appointment


def rec(outcome: Json) -> tuple[str, str, list[str]]:
    issue = outcome["issue"][0]
    return issue["details"]["coding"][0]["code"], issue["code"], issue.get("expression", [])


async def book_and_cancel_examples(sender: Sender) -> None:
    slot = (await sender.free_slots())[0]
    status, answer, _ = await post(sender, example(NEW, slot))
    assert status == 200, answer
    assert answer["type"] == "message"
    booked = focus(answer)
    assert booked["status"] == "booked" and booked["meta"]["versionId"] == "1"
    assert slot["id"] not in await sender.offered(), "the supplier no longer offers it"
    status, answer, _ = await post(sender, example(CANCELLED, slot))
    assert status == 200, answer
    cancelled = focus(answer)
    assert cancelled["id"] == booked["id"]
    assert cancelled["status"] == "cancelled" and cancelled["meta"]["versionId"] == "2"
    assert slot["id"] in await sender.offered(), "the supplier offers it again"
    status, outcome, _ = await post(sender, example(CANCELLED, slot))
    assert status == 422, "a booking no longer current is not cancelled again"
    assert rec(outcome)[:2] == ("REC_UNPROCESSABLE_ENTITY", "business-rule")


async def test_published_examples_book_then_cancel(doors: Doors) -> None:
    """BOOKREQ01 books the live slot over the embedded diary; BOOKREQ02 then cancels it."""
    await book_and_cancel_examples(doors.bars)
    found = await doors.bars.get(
        f"/Appointment?patient:identifier=https://fhir.nhs.uk/Id/nhs-number|{NHS_NUMBER}"
    )
    bundle = await found.json(content_type=None)
    assert [e["resource"]["status"] for e in bundle["entry"]] == ["cancelled"]


async def test_published_examples_over_a_peer(
    tmp_path: Path, unused_tcp_port_factory: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Over the REST peer's unchanged adapter the two examples book and cancel its slot."""
    monkeypatch.setenv(b.REST_KEY_ENV, b.REST_KEY)
    async with PEERS["rest-diary"](tmp_path, unused_tcp_port_factory) as sender:
        await book_and_cancel_examples(sender)


async def test_a_resent_request_id_books_once(doors: Doors) -> None:
    """The same X-Request-Id sent again is 409 REC_CONFLICT duplicate, naming what it made."""
    slot = (await doors.bars.free_slots())[0]
    body = example(NEW, slot)
    request_id = str(uuid.uuid4())
    status, answer, _ = await post(doors.bars, body, **{"X-Request-Id": request_id})
    assert status == 200, answer
    made = focus(answer)["id"]
    status, outcome, headers = await post(doors.bars, body, **{"X-Request-Id": request_id})
    assert status == 409
    assert rec(outcome)[:2] == ("REC_CONFLICT", "duplicate")
    assert headers["Content-Location"].endswith(f"/Appointment/{made}")
    found = await doors.bars.get(f"/Appointment?patient:identifier={NHS_NUMBER}")
    assert len((await found.json(content_type=None))["entry"]) == 1


async def test_update_reason_cancels_by_id_and_refuses_a_reschedule(doors: Doors) -> None:
    """Reason 'update' on a booked Appointment is 422; on a cancelled one with its id it cancels."""
    slot = (await doors.bars.free_slots())[0]
    status, answer, _ = await post(doors.bars, example(NEW, slot))
    booked = focus(answer)
    update = as_json(example(NEW, slot))
    update["entry"][0]["resource"]["reason"]["coding"][0]["code"] = "update"
    status, outcome, _ = await post(doors.bars, update)
    assert status == 422 and rec(outcome) == (
        "REC_UNPROCESSABLE_ENTITY",
        "business-rule",
        ["MessageHeader.reason"],
    )
    cancel = as_json(example(CANCELLED, slot))
    cancel["entry"][0]["resource"]["reason"]["coding"][0]["code"] = "update"
    cancel["entry"][1]["resource"].update(id=booked["id"], meta={**booked["meta"]})
    status, answer, _ = await post(doors.bars, cancel)
    assert status == 200, answer
    assert focus(answer)["status"] == "cancelled"
    status, outcome, _ = await post(doors.bars, cancel)
    assert status == 409, "a stale or finished booking is not cancelled twice"


def _drop_header(bundle: Json) -> None:
    bundle["entry"].pop(0)


def _wrong_event(bundle: Json) -> None:
    bundle["entry"][0]["resource"]["eventCoding"]["code"] = "booking-response"


def _no_focus(bundle: Json) -> None:
    del bundle["entry"][0]["resource"]["focus"]


def _no_slot(bundle: Json) -> None:
    bundle["entry"] = [e for e in bundle["entry"] if e["resource"]["resourceType"] != "Slot"]


def _foreign_resource(bundle: Json) -> None:
    meta = {"lastUpdated": "2021-10-11T15:01:30+00:00"}
    extra = {"resourceType": "Condition", "meta": meta, "subject": {"reference": "urn:uuid:x"}}
    bundle["entry"].append({"fullUrl": f"urn:uuid:{uuid.uuid4()}", "resource": extra})


def _no_version(bundle: Json) -> None:
    del bundle["meta"]["versionId"]


def _no_last_updated(bundle: Json) -> None:
    del bundle["entry"][2]["resource"]["meta"]["lastUpdated"]


def _no_sender(bundle: Json) -> None:
    del bundle["entry"][0]["resource"]["sender"]


def _receiver_not_an_organisation(bundle: Json) -> None:
    header = bundle["entry"][0]["resource"]
    header["destination"][0]["receiver"]["reference"] = bundle["entry"][2]["fullUrl"]


MALFORMED = {
    "no sender": (_no_sender, 400, "REC_BAD_REQUEST", "MessageHeader.sender.reference"),
    "receiver a Patient": (
        _receiver_not_an_organisation,
        400,
        "REC_BAD_REQUEST",
        "MessageHeader.destination.receiver",
    ),
    "no MessageHeader": (_drop_header, 400, "REC_BAD_REQUEST", "Bundle.entry[0].resource"),
    "wrong event": (
        _wrong_event,
        422,
        "REC_UNPROCESSABLE_ENTITY",
        "MessageHeader.eventCoding.code",
    ),
    "focus missing": (_no_focus, 400, "REC_BAD_REQUEST", "MessageHeader.focus"),
    "no Slot": (_no_slot, 400, "REC_BAD_REQUEST", "Bundle.entry.resource.ofType(Slot)"),
    "resource not in definition": (
        _foreign_resource,
        400,
        "REC_BAD_REQUEST",
        "Bundle.entry[12].resource",
    ),
    "no application version": (_no_version, 400, "REC_BAD_REQUEST", "Bundle.meta.versionId"),
    "no lastUpdated": (
        _no_last_updated,
        400,
        "REC_BAD_REQUEST",
        "Bundle.entry[2].resource.meta.lastUpdated",
    ),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
async def test_malformed_messages_get_their_rec_code_and_book_nothing(
    doors: Doors, case: str
) -> None:
    """Each malformed booking message is its REC code naming the element; the slot stays free."""
    spoil, status, code, where = MALFORMED[case]
    slot = (await doors.bars.free_slots())[0]
    bundle = copy.deepcopy(as_json(example(NEW, slot)))
    spoil(bundle)
    got, outcome, _ = await post(doors.bars, bundle)
    assert got == status, outcome
    found, _, expression = rec(outcome)
    assert (found, expression) == (code, [where])
    assert slot["id"] in await doors.bars.offered()


async def test_message_definitions_list_what_is_received(doors: Doors) -> None:
    """GET /MessageDefinition?context=a1t1 lists the booking-request definitions we serve."""
    resp = await doors.bars.get("/MessageDefinition?context=a1t1")
    assert resp.status == 200
    bundle = await resp.json(content_type=None)
    urls = sorted(
        e["resource"]["url"]
        for e in bundle["entry"]
        if e["resource"]["eventCoding"]["code"] == "booking-request"
    )
    assert urls == [
        "https://fhir.nhs.uk/MessageDefinition/bars-message-booking-request",
        "https://fhir.nhs.uk/MessageDefinition/bars-message-booking-request-cancelled",
    ]
    Bundle.model_validate(bundle)
    xml = await doors.bars.get("/MessageDefinition?context=a1t1", Accept=XML)
    assert xml.status == 200, await xml.text()
    assert len(Bundle.model_validate_xml(await xml.read()).entry) == len(bundle["entry"])
    none = await doors.bars.get(f"/MessageDefinition?context={DOS}|no-such-context")
    assert (await none.json(content_type=None))["total"] == 0


async def test_metadata_states_the_messages_received(doors: Doors) -> None:
    """The CapabilityStatement names $process-message and each definition it receives."""
    resp = await doors.bars.get("/metadata")
    statement = await resp.json(content_type=None)
    CapabilityStatement.model_validate(statement)
    assert [o["name"] for o in statement["rest"][0]["operation"]] == ["$process-message"]
    received = {m["definition"] for m in statement["messaging"][0]["supportedMessage"]}
    assert {
        "https://fhir.nhs.uk/MessageDefinition/bars-message-booking-request",
        "https://fhir.nhs.uk/MessageDefinition/bars-message-booking-request-cancelled",
    } <= received


async def test_the_response_message_is_r4_xml_when_asked(doors: Doors) -> None:
    """With Accept XML the response message Bundle is R4 XML whose header answers 'ok'."""
    slot = (await doors.bars.free_slots())[0]
    resp = await doors.bars.client.post(
        f"{BARS_ROOT_PATH}/$process-message",
        data=example(NEW, slot),
        headers=doors.bars.headers(Accept=XML, **{"Content-Type": XML}),
    )
    assert resp.status == 200, await resp.text()
    bundle = Bundle.model_validate_xml(await resp.read())
    assert bundle.type == "message"
    header = bundle.entry[0].resource
    assert header.response.code == "ok"
    assert bundle.entry[1].resource.status == "booked"


async def test_concurrent_messages_for_one_slot_book_it_once(doors: Doors) -> None:
    """Ten booking messages for one slot at once: one is booked, the others 409 REC_CONFLICT."""
    slot = (await doors.bars.free_slots())[0]
    body = example(NEW, slot)
    answers = await asyncio.gather(*(post(doors.bars, body) for _ in range(10)))
    statuses = sorted(status for status, _, _ in answers)
    assert statuses == [200] + [409] * 9, [a[1] for a in answers]
    assert all(rec(a[1])[0] == "REC_CONFLICT" for a in answers if a[0] == 409)
    found = await doors.bars.get(f"/Appointment?patient:identifier={NHS_NUMBER}")
    assert len((await found.json(content_type=None))["entry"]) == 1
