"""The situations behind the BaRS error examples, each produced against a real gateway.

``ERROR_SITUATIONS`` covers the error files of ``../shared/spec/bars/examples``;
``REC_SITUATIONS`` every OperationOutcome of ``api/examples/OperationOutcome/REC``: a
situation, or the reason no request to this receiver produces that answer.
Also the helpers that read the published examples at run time.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from adapters import registry
from gateway.bars_sender import journeys
from gateway.examples import EXAMPLE_NHS_NUMBER
from tests.bars import examples_table as t
from tests.bars.conftest import BARS_ROOT_PATH, Doors, Start, appointment_body
from tests.bars.test_process_message_booking import CANCELLED, NEW, example, post
from tests.bars.test_referrals import EXAMPLE_BAD_NHS_NUMBER
from tests.samples import ROOT, absent

Json = dict[str, Any]
SPEC = ROOT.parent / "shared" / "spec" / "bars"
EXAMPLES = SPEC / "examples"
REC_EXAMPLES = SPEC / "api" / "examples" / "OperationOutcome" / "REC"
#: The other NHS number of the CAD examples, with a wrong check digit too.
OTHER_BAD_NHS_NUMBER = b"7778521234"


def example_path(name: str) -> Path:
    path = EXAMPLES / name
    if not path.exists():
        pytest.skip(absent(path))
    return path


def published(name: str) -> bytes:
    """The example as published, its patient's NHS number made valid (Modulus 11)."""
    raw = example_path(name).read_bytes()
    for bad in (EXAMPLE_BAD_NHS_NUMBER, OTHER_BAD_NHS_NUMBER):
        raw = raw.replace(bad, EXAMPLE_NHS_NUMBER.encode())
    return raw


def as_json(name: str) -> Json:
    return journeys.load_file(example_path(name))


# the error examples' situations --------------------------------------------

Situation = Callable[[Start, pytest.MonkeyPatch], Awaitable[tuple[int, Json]]]


async def _answer(resp: Any) -> tuple[int, Json]:
    return resp.status, await resp.json(content_type=None)


async def _search_without(doors: Doors, name: str, value: str | None = None) -> tuple[int, Json]:
    headers = doors.bars.headers()
    headers.pop(name)
    if value is not None:
        headers[name] = value
    window = journeys.Window().params(datetime.now(UTC))
    return await _answer(
        await doors.bars.client.get(f"{BARS_ROOT_PATH}/Slot", params=window, headers=headers)
    )


async def no_request_id(start: Start, _: pytest.MonkeyPatch) -> tuple[int, Json]:
    return await _search_without(await start(), "X-Request-Id")


async def request_id_not_a_guid(start: Start, _: pytest.MonkeyPatch) -> tuple[int, Json]:
    return await _search_without(await start(), "X-Request-Id", "not-a-guid")


async def no_target(start: Start, _: pytest.MonkeyPatch) -> tuple[int, Json]:
    return await _search_without(await start(), "NHSD-Target-Identifier")


async def entry_not_in_the_definition(start: Start, _: pytest.MonkeyPatch) -> tuple[int, Json]:
    """A cancellation carrying a Flag, which its MessageDefinition does not list."""
    doors = await start()
    slot = (await doors.bars.free_slots())[0]
    status, _, _ = await post(doors.bars, example(NEW, slot))
    assert status == 200
    message = journeys.load_file(example_path(CANCELLED))
    message = json.loads(json.dumps(message).replace("2021-10-12T12:30:30Z", slot["start"]))
    flag = as_json("FLA01_-_Flag_-_Rejected_Services.xml")
    message["entry"].append({"fullUrl": f"urn:uuid:{uuid.uuid4()}", "resource": flag})
    status, answer, _ = await post(doors.bars, message)
    return status, answer


async def off_the_allow_list(start: Start, _: pytest.MonkeyPatch) -> tuple[int, Json]:
    doors = await start(extra_services='    allowed_consumers: ["Z9999"]\n')
    slot = (await doors.bars.free_slots())[0]
    return await _answer(await doors.bars.book(slot))


async def unknown_appointment(start: Start, _: pytest.MonkeyPatch) -> tuple[int, Json]:
    return await _answer(await (await start()).bars.get(f"/Appointment/{uuid.uuid4()}"))


async def another_major_version(start: Start, _: pytest.MonkeyPatch) -> tuple[int, Json]:
    doors = await start()
    return await _answer(
        await doors.bars.get("/metadata", Accept="application/fhir+json; version=2.0.0")
    )


def _faulty(behaviour: str, **options: Any) -> Situation:
    async def situation(start: Start, monkeypatch: pytest.MonkeyPatch) -> tuple[int, Json]:
        monkeypatch.setitem(registry.ADAPTERS, "faulty", "tests.api.faulty_supplier:create")
        doors = await start(extra_adapters=f"faulty:{behaviour}", **options)
        return await _answer(await doors.bars.search())

    return situation


async def slot_taken(start: Start, _: pytest.MonkeyPatch) -> tuple[int, Json]:
    doors = await start()
    slot = (await doors.bars.free_slots())[0]
    assert (await doors.bars.book(slot)).status == 201
    return await _answer(await doors.bars.book(slot))


async def resent_request_id(start: Start, _: pytest.MonkeyPatch) -> tuple[int, Json]:
    doors = await start()
    slot = (await doors.bars.free_slots())[0]
    request_id = str(uuid.uuid4())
    body = appointment_body(slot)
    assert (
        await doors.bars.send("POST", "/Appointment", body, **{"X-Request-Id": request_id})
    ).status == 201
    return await _answer(
        await doors.bars.send("POST", "/Appointment", body, **{"X-Request-Id": request_id})
    )


async def event_not_received(start: Start, _: pytest.MonkeyPatch) -> tuple[int, Json]:
    """A servicerequest-response (REFRESP01): an event this receiver does not take."""
    doors = await start()
    name = next(n for n in t.of_kind(t.Kind.OTHER) if n.startswith("REFRESP01"))
    status, answer, _ = await post(doors.bars, published(name))
    return status, answer


#: The examples/ error files -> the situation that produces them.
ERROR_SITUATIONS: dict[str, Situation] = {
    "400BadRequest.json": entry_not_in_the_definition,
    "401Unauthorised.json": off_the_allow_list,
    "409Conflict.json": resent_request_id,
    "500ServerError.json": _faulty("broken"),
}

#: api/examples/OperationOutcome/REC: each file -> its situation, or why none produces it.
REC_SITUATIONS: dict[str, Situation | str] = {
    "400-REC_BAD_REQUEST-invalid.json": no_request_id,
    "400-REC_BAD_REQUEST-invariant.json": entry_not_in_the_definition,
    "400-REC_BAD_REQUEST-not-supported.json": "'in FOT' (first of type) for a feature not yet "
    "supported: a live receiver answers an unserved feature 501 or 422 not-supported instead",
    "400-REC_BAD_REQUEST-required.json": no_target,
    "400-REC_BAD_REQUEST-value.json": request_id_not_a_guid,
    "401-REC_UNAUTHORIZED-forbidden.json": off_the_allow_list,
    "403-REC_FORBIDDEN-forbidden.json": "'TLS-MA failure': with mTLS on, a sender without a "
    "client certificate the CA signed is refused in the TLS handshake, before any HTTP answer",
    "403-REC_FORBIDDEN-security.json": "'TLS-MA failure', as 403-REC_FORBIDDEN-forbidden",
    "404-REC_NOT_FOUND-not-found.json": unknown_appointment,
    "406-REC_NOT_ACCEPTABLE-processing.json": another_major_version,
    "408-REC_TIMEOUT-timeout.json": _faulty("slow", bars_timeout_s=0.3),
    "409-REC_CONFLICT-conflict.json": slot_taken,
    "409-REC_CONFLICT-duplicate.json": resent_request_id,
    "422-REC_UNPROCESSABLE_ENTITY-not-supported.json": event_not_received,
    "422-REC_UNPROCESSABLE_ENTITY-too-costly.json": "a start range too wide: this receiver "
    "pages a wide search (link next) rather than refusing it",
    "500-REC_SERVER_ERROR-exception.json": _faulty("broken"),
    "500-REC_SERVER_ERROR-no-store.json": "a storage failure: the store is local SQLite; no "
    "request produces one (the crash tests cover a store that stops)",
    "500-REC_SERVER_ERROR-too costly.json": "a slot search too wide: paged, as the 422 one",
    "500-REC_SERVER_ERROR-transient.json": "an unexpected exception: answered with issue "
    "exception (500-REC_SERVER_ERROR-exception), the example this receiver follows",
    "501-REC_NOT_IMPLEMENTED-not-supported.json": _faulty("no-search"),
    "503-REC_SERVICE_UNAVAILABLE-transient.json": _faulty("down"),
}
