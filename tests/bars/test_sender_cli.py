"""``uec-gateway simulate bars-sender`` as a child process against a gateway on a real port.

The sender is what an integrator runs: search, book (POST /Appointment and
$process-message), read, cancel (read before write), refer, and send a published
example; each answer is printed as JSON and the exit code says whether it was 2xx.
What the gateway stored is read back over its own BaRS door.
"""

from __future__ import annotations

import json
from typing import Any

from tests.bars.conftest import BARS_ROOT_PATH, DOS, DOS_ID, Doors
from tests.bars.example_situations import example_path
from tests.processes import Finished, run_python
from tests.samples import ROOT

Json = dict[str, Any]
BOOKREQ01 = "BOOKREQ01_-_Booking_Request_New_Full.xml"


async def sender(doors: Doors, *args: str) -> tuple[Finished, Json]:
    """Run the sender against ``doors``' gateway; its exit and the answer it printed."""
    port = doors.bars.client.port
    base = f"http://127.0.0.1:{port}{BARS_ROOT_PATH}"
    common = ["--base", base, "--target", f"{DOS}|{DOS_ID}", "--ods", "A1001"]
    done = await run_python(
        ["-m", "gateway", "simulate", "bars-sender", *common, *args], ROOT, timeout_s=90
    )
    assert "Traceback" not in done.stderr, done.stderr
    answer: Json = json.loads(done.stdout) if done.stdout.strip() else {}
    return done, answer


async def _stored(doors: Doors, appointment_id: str) -> Json:
    resp = await doors.bars.get(f"/Appointment/{appointment_id}")
    assert resp.status == 200, await resp.text()
    data: Json = await resp.json(content_type=None)
    return data


async def test_search_book_read_and_cancel_over_rest(doors: Doors) -> None:
    """search, book, read and cancel: each exits 0 and the gateway holds what was asked."""
    done, answer = await sender(doors, "search")
    assert done.returncode == 0 and answer["status"] == 200
    assert answer["body"]["type"] == "searchset" and answer["body"]["total"] > 0
    assert answer["headers"]["X-Request-Id"] and answer["headers"]["X-Correlation-Id"]
    done, answer = await sender(doors, "book")
    assert done.returncode == 0 and answer["status"] == 201, answer
    booked = answer["body"]
    assert "GET /Slot -> 200" in done.stderr, "the booking followed a search"
    stored = await _stored(doors, booked["id"])
    assert stored["status"] == "booked" and stored["slot"] == booked["slot"]
    done, answer = await sender(doors, "read", booked["id"])
    assert done.returncode == 0 and answer["body"]["id"] == booked["id"]
    done, answer = await sender(doors, "cancel", booked["id"])
    assert done.returncode == 0 and answer["request"] == f"PUT /Appointment/{booked['id']}"
    assert f"GET /Appointment/{booked['id']} -> 200" in done.stderr, "read before write"
    assert (await _stored(doors, booked["id"]))["status"] == "cancelled"


async def test_book_and_cancel_by_message(doors: Doors) -> None:
    """book --message and cancel --message go through $process-message; versions 1 then 2."""
    done, answer = await sender(doors, "book", "--message")
    assert done.returncode == 0 and answer["request"] == "POST /$process-message", answer
    header = answer["body"]["entry"][0]["resource"]
    assert header["response"]["code"] == "ok"
    appointment_id = answer["headers"]["Location"].rpartition("/")[2]
    assert (await _stored(doors, appointment_id))["meta"]["versionId"] == "1"
    done, answer = await sender(doors, "cancel", appointment_id, "--message")
    assert done.returncode == 0, answer
    stored = await _stored(doors, appointment_id)
    assert stored["status"] == "cancelled" and stored["meta"]["versionId"] == "2"


async def test_a_refused_request_exits_non_zero_with_the_outcome(doors: Doors) -> None:
    """Cancelling a cancelled booking again prints the REC OperationOutcome and exits 1."""
    _, answer = await sender(doors, "book")
    appointment_id = answer["body"]["id"]
    assert (await sender(doors, "cancel", appointment_id))[0].returncode == 0
    done, answer = await sender(doors, "cancel", appointment_id, "--message")
    assert done.returncode == 1
    assert answer["status"] == 422
    issue = answer["body"]["issue"][0]
    assert issue["details"]["coding"][0]["code"] == "REC_UNPROCESSABLE_ENTITY"


async def test_refer_links_the_referral_to_a_booking(doors: Doors) -> None:
    """refer --appointment sends a servicerequest-request; the stored referral names the booking."""
    _, answer = await sender(doors, "book")
    appointment_id = answer["body"]["id"]
    done, answer = await sender(doors, "refer", "--appointment", appointment_id)
    assert done.returncode == 0, answer
    request = next(
        e["resource"]
        for e in answer["body"]["entry"]
        if e["resource"]["resourceType"] == "ServiceRequest"
    )
    resp = await doors.bars.get(f"/ServiceRequest/{request['id']}")
    read = await resp.json(content_type=None)
    assert read["status"] == "active"
    assert read["supportingInfo"] == [
        {"reference": f"Appointment/{appointment_id}", "display": "Booking"}
    ]
    assert read["reasonCode"][0]["coding"][0]["code"] == "DX02"


async def test_send_a_published_example_fresh_in_xml(doors: Doors) -> None:
    """send --fresh moves BOOKREQ01 to a live slot and books it; --format xml answers in XML."""
    path = str(example_path(BOOKREQ01))
    done, answer = await sender(doors, "--format", "xml", "send", path, "--fresh")
    assert done.returncode == 0, answer
    assert answer["body"].lstrip().startswith("<?xml") and "<Bundle" in answer["body"]
    appointment_id = answer["headers"]["Location"].rpartition("/")[2]
    stored = await _stored(doors, appointment_id)
    assert stored["status"] == "booked"
    assert stored["contained"][0]["identifier"][0]["value"] == "9476719931"
    done, answer = await sender(doors, "send", path)
    assert done.returncode == 1, "as published its slot is not one this diary offers"
    assert answer["status"] in (400, 404, 409, 422)


async def test_an_unreachable_receiver_exits_2() -> None:
    """No receiver listening: a one-line reason on stderr, exit code 2, nothing on stdout."""
    done = await run_python(
        [
            "-m",
            "gateway",
            "simulate",
            "bars-sender",
            "--base",
            "http://127.0.0.1:9/bars/FHIR/R4",
            "search",
        ],
        ROOT,
        timeout_s=60,
    )
    assert done.returncode == 2 and done.stdout == ""
    assert "could not ask" in done.stderr and "Traceback" not in done.stderr


async def test_dry_run_prints_the_message_and_books_nothing(doors: Doors) -> None:
    """book --message --dry-run prints the booking-request it would send; the slot stays free."""
    done, answer = await sender(doors, "book", "--message", "--dry-run")
    assert done.returncode == 0 and answer["status"] == 0, answer
    message = answer["body"]
    assert message["type"] == "message" and answer["headers"]["NHSD-Target-Identifier"]
    slot = next(e["resource"] for e in message["entry"] if e["resource"]["resourceType"] == "Slot")
    assert slot["id"] in await doors.bars.offered(), "nothing was booked"
