"""Fuzzing the FHIR door over real sockets: mutated JSON bodies, query strings and headers.

Seeds: our demo booking (``booking_body``) and the shared STU3 booking sample. Every
request goes to a real gateway on 127.0.0.1 (one per test function, reused by every
example) as raw bytes, so nothing on the client side tidies it first. The invariants
(issue 9): never a 5xx; every 4xx is a FHIR JSON OperationOutcome; every 2xx is a FHIR
resource; an answer within ``BUDGET_S``; no patient identifier in a log record (structlog
events and the standard library's, aiohttp's included) or in an audit row.

XML bodies and responses are the formats fuzzing's (tests/fuzz, formats and rendering).
"""

from __future__ import annotations

import copy
import json
import logging
import urllib.parse
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from structlog.testing import capture_logs

from gateway.http.exchange import AUDIT, STORE
from tests.api.conftest import (  # noqa: F401 (gateway, consumer: fixtures)
    READ_APPTS,
    READ_SLOTS,
    SERVICE_ID,
    SERVICE_ROOT_PATH,
    WRITE_APPTS,
    Consumer,
    booking_body,
    consumer,
    gateway,
)
from tests.api.test_http_errors import raw_exchange
from tests.api.test_malformed_requests import later_slot
from tests.samples import SHARED_SAMPLES

SAMPLE = SHARED_SAMPLES / "fhir-stu3" / "booking-api-audit-example-Appointment.json"

#: Strings that have broken parsers before, or name things the gateway looks up.
TRICKY = (
    "",
    " ",
    "0",
    "#",
    "#P1",
    "#slot002",
    "2019-13-45T25:61:61Z",
    "2030-01-01T10:00:00Z",
    "2030-01-01T10:00:00+25:00",
    "2030-02-30",
    "9999-12-31T23:59:59.999999999+14:00",
    "1e400",
    "-0",
    "\x00",
    "\u202e",
    "\ud7ff\ufffe",
    "x" * 5000,
    "Patient",
    "Slot",
    "DocumentReference",
    "Appointment",
    "Bundle",
    "booked",
    "cancelled",
    "https://fhir.nhs.uk/Id/nhs-number",
    "9434765918",
    "Schedule/../../etc",
)
_LEAVES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
    st.sampled_from(TRICKY),
)
JSON_VALUES = st.recursive(
    _LEAVES,
    lambda kids: (
        st.lists(kids, max_size=3) | st.dictionaries(st.text(max_size=10), kids, max_size=3)
    ),
    max_leaves=6,
)
#: Element names the gateway reads, so an inserted key is often one that matters.
KEYS = (
    "resourceType",
    "id",
    "contained",
    "identifier",
    "value",
    "system",
    "reference",
    "start",
    "end",
    "status",
    "indexed",
    "birthDate",
    "telecom",
    "rank",
    "extension",
    "url",
    "participant",
    "actor",
    "slot",
    "description",
    "supportingInformation",
    "incomingReferral",
    "meta",
    "_start",
)

Path = tuple[str | int, ...]


def _paths(node: Any, here: Path = ()) -> Iterator[Path]:
    yield here
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _paths(value, (*here, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _paths(value, (*here, index))


def _at(doc: Any, path: Path) -> Any:
    for step in path:
        doc = doc[step]
    return doc


@st.composite
def mutated(draw: st.DrawFn, seed: dict[str, Any]) -> dict[str, Any]:
    """``seed`` after one to three edits: a value replaced, deleted, added or duplicated."""
    doc = copy.deepcopy(seed)
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        paths = list(_paths(doc))[1:]
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent, last = _at(doc, path[:-1]), path[-1]
        action = draw(st.sampled_from(("replace", "delete", "add", "duplicate")))
        if action == "replace":
            parent[last] = draw(JSON_VALUES)
        elif action == "delete":
            del parent[last]
        elif action == "add" and isinstance(parent[last], dict):
            parent[last][draw(st.sampled_from(KEYS) | st.text(max_size=8))] = draw(JSON_VALUES)
        elif action == "add" and isinstance(parent[last], list):
            parent[last].append(draw(JSON_VALUES))
        elif isinstance(parent, list):
            parent.append(copy.deepcopy(parent[last]))
    return doc


@st.composite
def damaged(draw: st.DrawFn, data: bytes) -> bytes:
    """``data`` with a few bytes flipped, cut out or inserted."""
    out = bytearray(data)
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        at = draw(st.integers(min_value=0, max_value=len(out) - 1))
        action = draw(st.sampled_from(("flip", "cut", "insert")))
        if action == "flip":
            out[at] = draw(st.integers(min_value=0, max_value=255))
        elif action == "cut":
            del out[at : at + draw(st.integers(min_value=1, max_value=40))]
        else:
            out[at:at] = draw(st.sampled_from((b"{", b"}", b"[", b'"', b",", b"\\u0000", b"1e999")))
    return bytes(out)


class Door:
    """One gateway under fuzz: raw requests, the invariants checked on every answer."""

    def __init__(self, api: Consumer, caplog: pytest.LogCaptureFixture) -> None:
        self.consumer = api
        self.caplog = caplog
        self.seeds: list[dict[str, Any]] = []
        self.secrets: set[str] = set()
        self.booked: dict[str, Any] | None = None

    async def setup(self) -> None:
        """Seeds for a slot an hour ahead; the patient identifiers they carry."""
        if self.seeds:
            return
        slot = await later_slot(self.consumer)
        self.seeds.append(booking_body(slot))
        if SAMPLE.is_file():
            sample = json.loads(SAMPLE.read_text(encoding="utf-8"))
            sample["contained"] = [
                {**c, **{k: slot[k] for k in ("identifier", "start", "end")}}
                if c.get("resourceType") == "Slot"
                else c
                for c in sample["contained"]
            ]
            self.seeds.append({**sample, "start": slot["start"], "end": slot["end"]})
        for seed in self.seeds:
            self.secrets |= _patient_identifiers(seed)

    def headers(self, scope: str, interaction: str, **extra: str) -> dict[str, str]:
        return {**self.consumer.headers(scope, interaction), **extra}

    async def send(
        self, method: str, target: str, headers: dict[str, str], body: bytes = b""
    ) -> tuple[int, dict[str, str], bytes]:
        """Send one request as bytes and check every invariant on its answer."""
        lines = [f"{method} {target} HTTP/1.1", "Host: 127.0.0.1", "Connection: close"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        if body or method in ("POST", "PUT"):
            lines.append(f"Content-Length: {len(body)}")
        request = "\r\n".join(lines).encode("latin-1", "replace") + b"\r\n\r\n" + body
        before = len(self.caplog.records)
        with capture_logs() as events:
            status, answer_headers, answer = await raw_exchange(self.consumer, request)
        what = f"{method} {target[:200]!r} -> {status} {answer[:300]!r}"
        assert status < 500, what
        assert answer_headers.get("content-type", "").startswith("application/fhir+json"), what
        resource = json.loads(answer)
        if status >= 400:
            assert resource["resourceType"] == "OperationOutcome", what
            assert resource["issue"][0]["diagnostics"], what
        else:
            assert isinstance(resource.get("resourceType"), str), what
        logged = repr(events) + "".join(
            f"{r.getMessage()} {r.exc_text or ''}" for r in self.caplog.records[before:]
        )
        leaked = [s for s in self.secrets if s in logged]
        assert not leaked, f"{what}: logged {leaked}"
        return status, answer_headers, answer

    async def audit_is_clean(self) -> None:
        """No patient identifier in the audit rows written so far."""
        await self.consumer.client.app[AUDIT].flush()
        rows = repr(await self.consumer.client.app[STORE].audit_entries(10_000))
        assert not [s for s in self.secrets if s in rows]


def _patient_identifiers(body: dict[str, Any]) -> set[str]:
    """NHS numbers, names, birth dates and postcodes of the contained Patient."""
    found: set[str] = set()
    for item in body.get("contained") or []:
        if item.get("resourceType") != "Patient":
            continue
        found |= {str(i["value"]) for i in item.get("identifier") or [] if i.get("value")}
        found |= {str(n["family"]) for n in item.get("name") or [] if n.get("family")}
        found |= {str(a["postalCode"]) for a in item.get("address") or [] if a.get("postalCode")}
        if item.get("birthDate"):
            found.add(str(item["birthDate"]))
    return found


@pytest.fixture
async def door(consumer: Consumer, caplog: pytest.LogCaptureFixture) -> Door:  # noqa: F811
    """A gateway under fuzz, its seeds ready; every log record at DEBUG is kept."""
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="aiohttp")
    fuzzed = Door(consumer, caplog)
    await fuzzed.setup()
    return fuzzed


_JSON_HEADERS = {"Content-Type": "application/fhir+json"}


@given(data=st.data())
async def test_mutated_booking_bodies(door: Door, data: st.DataObject) -> None:
    """A booking POST of any edit of a seed: 201 or a 4xx OperationOutcome, nothing leaked."""
    seed = data.draw(st.sampled_from(door.seeds))
    body = json.dumps(data.draw(mutated(seed))).encode()
    headers = door.headers(WRITE_APPTS, "create:appointment", **_JSON_HEADERS)
    await door.send("POST", f"{SERVICE_ROOT_PATH}/Appointment", headers, body)
    await door.audit_is_clean()


@given(data=st.data())
async def test_damaged_booking_bytes(door: Door, data: st.DataObject) -> None:
    """A booking POST of a seed's JSON with bytes flipped, cut or added: never a 5xx."""
    seed = data.draw(st.sampled_from(door.seeds))
    body = data.draw(damaged(json.dumps(seed).encode()))
    headers = door.headers(WRITE_APPTS, "create:appointment", **_JSON_HEADERS)
    await door.send("POST", f"{SERVICE_ROOT_PATH}/Appointment", headers, body)


@given(data=st.data())
async def test_mutated_cancels(door: Door, data: st.DataObject) -> None:
    """A cancel PUT of any edit of a booked appointment, any If-Match: 200/4xx, never a 5xx."""
    if door.booked is None:
        resp = await door.consumer.book(door.seeds[0])
        assert resp.status == 201, await resp.text()
        door.booked = await resp.json(content_type=None)
    booked = door.booked
    body = data.draw(mutated({**booked, "status": "cancelled"}))
    if_match = data.draw(st.sampled_from(('W/"1"', 'W/"2"', "1", "*", "")) | st.text(max_size=12))
    headers = door.headers(
        WRITE_APPTS, "update:appointment", **_JSON_HEADERS, **{"If-Match": _header_text(if_match)}
    )
    target = f"{SERVICE_ROOT_PATH}/Appointment/{booked['id']}"
    await door.send("PUT", target, headers, json.dumps(body).encode())
    await door.audit_is_clean()


SLOT_PARAMS = (
    "service",
    "status",
    "start",
    "end",
    "_include",
    "_count",
    "schedule.actor:healthcareservice",
    "_revinclude",
    "_elements",
)
PATIENT_PARAMS = ("patient:identifier", "patient.identifier", "identifier", "patient", "status")
QUERY_VALUES = st.one_of(
    st.text(max_size=30).filter(lambda v: "xml" not in v.lower()),
    st.sampled_from(
        (
            SERVICE_ID,
            "9434765919",
            "https://fhir.nhs.uk/Id/nhs-number|9434765919",
            "https://fhir.nhs.uk/Id/nhs-number|9434765918",
            "|",
            "ge2030-01-01",
            "le9999-99-99",
            "gt2019-13-45T25:61:61Z",
            "ge2030-01-01T10:00:00+01:00",
            "eq",
            "free,busy",
            "Slot:schedule",
            "Schedule:actor:Practitioner",
            "-1",
            "99999999999999999999",
        )
    ),
    st.sampled_from(TRICKY),
)


#: Characters a careless client leaves unencoded in a query value.
_LOOSE = "!$&()*+,;=:@/?|[]{}"


def _query(pairs: list[tuple[str, str]], raw: bool) -> str:
    """A query string, percent-encoded (or, when ``raw``, only its spaces and controls)."""
    if raw:
        return "&".join(
            f"{k}={urllib.parse.quote(v, safe='!$&()*+,;=:@/?|[]{}')}" for k, v in pairs
        )
    return urllib.parse.urlencode(pairs)


@given(
    pairs=st.lists(
        st.tuples(st.sampled_from(SLOT_PARAMS) | st.text(min_size=1, max_size=8), QUERY_VALUES),
        max_size=5,
    ),
    with_service=st.booleans(),
    raw=st.booleans(),
)
async def test_fuzzed_slot_searches(
    door: Door, pairs: list[tuple[str, str]], with_service: bool, raw: bool
) -> None:
    """GET /Slot with any query: 200 Bundle or a 4xx OperationOutcome, in time, nothing leaked."""
    if with_service:
        pairs = [("service", SERVICE_ID), *pairs]
    headers = door.headers(READ_SLOTS, "read:slot")
    await door.send("GET", f"{SERVICE_ROOT_PATH}/Slot?{_query(pairs, raw)}", headers)
    await door.audit_is_clean()


@given(
    pairs=st.lists(
        st.tuples(st.sampled_from(PATIENT_PARAMS) | st.text(min_size=1, max_size=8), QUERY_VALUES),
        max_size=4,
    ),
    raw=st.booleans(),
)
async def test_fuzzed_appointment_searches(
    door: Door, pairs: list[tuple[str, str]], raw: bool
) -> None:
    """GET /Appointment with any query: 200 Bundle or a 4xx OperationOutcome, nothing leaked."""
    headers = door.headers(READ_APPTS, "read:appointment")
    await door.send("GET", f"{SERVICE_ROOT_PATH}/Appointment?{_query(pairs, raw)}", headers)
    await door.audit_is_clean()


def _header_text(value: str) -> str:
    """``value`` as one header line can carry it (no line breaks; latin-1)."""
    return value.replace("\r", "").replace("\n", "").encode("latin-1", "replace").decode("latin-1")


HEADER_VALUES: dict[str, st.SearchStrategy[str]] = {
    "Accept": st.sampled_from(
        ("*/*", "application/fhir+json", "application/json", "text/html", "json", "", ";;", "a/b")
    ),
    "Content-Type": st.sampled_from(
        ("application/fhir+json", "application/json; charset=latin-1", "text/plain", "", "a/b;q=")
    ),
    "X-Request-ID": st.text(max_size=80),
    "If-Match": st.text(max_size=20),
    "Content-Encoding": st.sampled_from(
        ("gzip", "deflate", "br", "zstd", "identity", "compress", "gzip, gzip", "", "GZIP")
    ),
    "Ssp-TraceID": st.text(max_size=40),
    "Ssp-From": st.text(max_size=20),
    "Accept-Charset": st.text(max_size=20),
}


@given(
    chosen=st.dictionaries(
        st.sampled_from(sorted(HEADER_VALUES)), st.just(""), min_size=1, max_size=4
    ),
    data=st.data(),
    search=st.booleans(),
)
async def test_fuzzed_headers(
    door: Door, chosen: dict[str, str], data: st.DataObject, search: bool
) -> None:
    """A booking or slot search with odd Accept, Content-Type, X-Request-ID, If-Match, Content-
    Encoding and SSP headers: a 2xx or a 4xx OperationOutcome, in time, nothing leaked."""
    values = {name: _header_text(data.draw(HEADER_VALUES[name])) for name in chosen}
    values = {k: v.replace("xml", "") if k == "Accept" else v for k, v in values.items()}
    if search:
        headers = door.headers(READ_SLOTS, "read:slot", **values)
        await door.send("GET", f"{SERVICE_ROOT_PATH}/Slot?service={SERVICE_ID}", headers)
    else:
        headers = door.headers(WRITE_APPTS, "create:appointment", **{**_JSON_HEADERS, **values})
        body = json.dumps(door.seeds[0]).encode()
        await door.send("POST", f"{SERVICE_ROOT_PATH}/Appointment", headers, body)
    await door.audit_is_clean()
