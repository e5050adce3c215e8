"""A minimal aiohttp app doing the gateway's own work for the benchmark, and nothing else.

Beside ``benchmarks.bare`` (fixed bytes), this is the other baseline: the same SQL
on the same kind of diary file and the same serialisation, with none of the
gateway's checks: no JWT, no SSP headers, no parameter or profile validation, no
idempotency ledger, no appointment versions, no audit. So gateway/minimal is the
gateway's overhead over the work any server answering these requests must do.

- ``GET /Slot``: the embedded diary's slot query (``adapters/embedded/_sqlite.py``)
  on a copy of the gateway's diary file, a searchset of Slot dicts with the same
  included resources (loaded once from a captured gateway answer), ``orjson``;
- ``POST /Appointment``: one transaction taking the slot and inserting the booking
  row; 201 with an Appointment dict, ``ETag`` and ``Location``;
- ``PUT /Appointment/{id}``: one transaction cancelling the row and freeing the
  slot; 200 with the cancelled Appointment.

The database is reached with aiosqlite, as the embedded diary does (one
connection, one call at a time; see ``benchmarks._minimal_diary``).

    python -m benchmarks.minimal --port 8082 --database diary.sqlite3 --fixtures fixtures.json
"""

from __future__ import annotations

import argparse
import sys
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TypedDict

import orjson
from aiohttp import web

from benchmarks._minimal_diary import MinimalDiary, NewBooking, Row
from benchmarks._minimal_fhir import Directory, Json, Stored, appointment, contained, searchset

JSON_TYPE = "application/fhir+json;charset=utf-8"
DIARY = web.AppKey("diary", MinimalDiary)
DIRECTORY = web.AppKey("directory", Directory)
SERVICE = web.AppKey("service", str)


class MinimalFixtures(TypedDict):
    """What the minimal app starts from; written by the benchmark, read once."""

    base_path: str
    service_id: str
    #: A captured gateway searchset: its included resources are reused as they are.
    search_body: str


def _stamp(raw: str) -> str:
    """A search bound as the diary compares it: UTC, to the second."""
    moment = datetime.fromisoformat(raw)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _bounds(values: Sequence[str]) -> tuple[str | None, str | None]:
    lower = upper = None
    for value in values:
        if value.startswith("ge"):
            lower = _stamp(value[2:])
        elif value.startswith("le"):
            upper = _stamp(value[2:])
    return lower, upper


def _response(
    request: web.Request, data: Json, status: int = 200, headers: Mapping[str, str] | None = None
) -> web.Response:
    response = web.Response(
        status=status,
        body=orjson.dumps(data),
        headers={"Content-Type": JSON_TYPE, **(headers or {})},
    )
    if "gzip" in request.headers.get("Accept-Encoding", "").lower():
        response.enable_compression(web.ContentCoding.gzip)
    return response


async def search(request: web.Request) -> web.Response:
    directory = request.app[DIRECTORY]
    lower, upper = _bounds(request.query.getall("start", []))
    rows = await request.app[DIARY].free_slots(directory.schedule_ids, lower, upper)
    self_url = f"{directory.base}/Slot?{request.query_string}"
    return _response(request, searchset(directory, self_url, rows))


def _version_headers(request: web.Request, ref: str, version: int) -> dict[str, str]:
    url = f"{request.app[DIRECTORY].base}/Appointment/{ref}/_history/{version}"
    return {"Location": url, "Content-Location": url, "ETag": f'W/"{version}"'}


def _new_booking(request: web.Request, body: Json, now: str) -> NewBooking:
    slot = contained(body, "Slot") or {}
    document = contained(body, "DocumentReference")
    return NewBooking(
        supplier_ref=str(uuid.uuid4()),
        request_id=request.headers.get("X-Request-ID") or str(uuid.uuid4()),
        slot_ref=str(slot["identifier"][0]["value"]),
        service_id=request.app[SERVICE],
        start=str(body["start"]),
        end=str(body["end"]),
        description=str(body.get("description", "")),
        patient=orjson.dumps(contained(body, "Patient") or {}).decode(),
        document=orjson.dumps(document).decode() if document is not None else None,
        created=now,
    )


async def book(request: web.Request) -> web.Response:
    body = orjson.loads(await request.read())
    now = datetime.now(UTC).isoformat()
    new = _new_booking(request, body, now)
    slot = await request.app[DIARY].book(new)
    if slot is None:
        return _response(request, {"resourceType": "OperationOutcome"}, status=409)
    stored = Stored(
        new.supplier_ref,
        "booked",
        new.start,
        new.end,
        new.description,
        orjson.loads(new.patient),
        orjson.loads(new.document) if new.document else None,
        now,
    )
    headers = _version_headers(request, new.supplier_ref, 1)
    return _response(request, appointment(stored, slot, 1, now), 201, headers)


def _stored(ref: str, row: Row) -> Stored:
    """A booking row returned by the cancel (slot_id, start, end, ..., created)."""
    document = orjson.loads(row[5]) if row[5] else None
    return Stored(ref, "cancelled", row[1], row[2], row[3], orjson.loads(row[4]), document, row[6])


async def cancel(request: web.Request) -> web.Response:
    orjson.loads(await request.read())  # the body is read and parsed, and nothing checked
    ref = request.match_info["id"]
    now = datetime.now(UTC).isoformat()
    done = await request.app[DIARY].cancel(ref, now)
    if done is None:
        return _response(request, {"resourceType": "OperationOutcome"}, status=409)
    booking, slot = done
    resource = appointment(_stored(ref, booking), slot, 2, now)
    return _response(request, resource, headers=_version_headers(request, ref, 2))


async def health(_request: web.Request) -> web.Response:
    return web.json_response({"status": "pass"}, headers={"Cache-Control": "no-store"})


def create_app(fixtures: MinimalFixtures, database: Path, base_url: str) -> web.Application:
    """The app over ``database``; ``base_url`` is the service root its URLs are under."""
    base = fixtures["base_path"]
    bundle = orjson.loads(fixtures["search_body"])
    app = web.Application()
    app[DIRECTORY] = Directory.from_bundle(bundle, base_url, fixtures["service_id"])
    app[SERVICE] = fixtures["service_id"]

    async def diary(app: web.Application) -> AsyncIterator[None]:
        app[DIARY] = await MinimalDiary.open(str(database))
        yield
        await app[DIARY].close()

    app.cleanup_ctx.append(diary)
    app.router.add_get(f"{base}/Slot", search)
    app.router.add_post(f"{base}/Appointment", book)
    app.router.add_put(f"{base}/Appointment/{{id}}", cancel)
    app.router.add_get("/health", health)
    return app


def load_fixtures(path: Path) -> MinimalFixtures:
    data: MinimalFixtures = orjson.loads(path.read_bytes())
    return data


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="benchmarks.minimal", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--database", type=Path, required=True, help="a copy of the diary file")
    parser.add_argument("--fixtures", type=Path, required=True)
    args = parser.parse_args(argv)
    fixtures = load_fixtures(args.fixtures)
    base_url = f"http://{args.host}:{args.port}{fixtures['base_path']}"
    app = create_app(fixtures, args.database, base_url)
    print(f"minimal same-work app on http://{args.host}:{args.port}", file=sys.stderr)
    # The same run_app settings as ``uec-gateway serve``: no access log.
    web.run_app(app, host=args.host, port=args.port, print=None, access_log=None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
