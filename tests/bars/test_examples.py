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
from pathlib import Path
from typing import Any

import pytest

from adapters.bars_wire import messages
from adapters.bars_wire.headers import Target
from adapters.domain import ClinicalContent, ReferralAttachment
from gateway.bars_sender import journeys
from gateway.examples import EXAMPLE_NHS_NUMBER
from gateway.http.exchange import STORE
from tests.bars import examples_table as t
from tests.bars.conftest import Doors, Sender
from tests.bars.test_process_message_booking import CANCELLED, NEW, example, focus, post
from tests.bars.test_referrals import EXAMPLE_BAD_NHS_NUMBER
from tests.samples import ROOT, absent

Json = dict[str, Any]
SPEC = ROOT.parent / "shared" / "spec" / "bars"
EXAMPLES = SPEC / "examples"
REC_EXAMPLES = SPEC / "api" / "examples" / "OperationOutcome" / "REC"
#: The other NHS number of the CAD examples, with a wrong check digit too.
OTHER_BAD_NHS_NUMBER = b"7778521234"
NHS = "https://fhir.nhs.uk/Id/nhs-number"
REFERRAL = "REFREQ01_-_Referral_Service_Request_New_Full_-_111_to_ED.xml"
_MAPPED = {"MessageHeader", "ServiceRequest", "Patient"}


def _path(name: str) -> Path:
    path = EXAMPLES / name
    if not path.exists():
        pytest.skip(absent(path))
    return path


def published(name: str) -> bytes:
    """The example as published, its patient's NHS number made valid (Modulus 11)."""
    raw = _path(name).read_bytes()
    for bad in (EXAMPLE_BAD_NHS_NUMBER, OTHER_BAD_NHS_NUMBER):
        raw = raw.replace(bad, EXAMPLE_NHS_NUMBER.encode())
    return raw


def as_json(name: str) -> Json:
    return journeys.load_file(_path(name))


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
    """A referral message (adapters.bars_wire) carrying ``resources`` as supportingInfo."""
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
