"""Fuzzing FHIR XML and JSON bodies: never a 5xx, always an OperationOutcome, no leak (issue 9).

Seeds: the demo booking (``gateway.examples.booking_body``) rendered to XML, and the
shared CareConnect Appointment sample converted to XML. Mutations: unknown, dropped
and repeated elements, odd values and control characters, huge attributes, deep
nesting, DTDs and entities, namespace tricks, comments and processing
instructions, broken bytes. Bodies go to a real gateway on 127.0.0.1 (one per test
function); ``formats.load``/``dump`` are also fuzzed directly, with JSON number and
structure edge cases.
"""

from __future__ import annotations

import asyncio
import copy
import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import pytest
from hypothesis import given
from hypothesis import strategies as st
from lxml import etree
from structlog.testing import capture_logs

from gateway.errors import ApiError, ErrorKind
from gateway.examples import EXAMPLE_NHS_NUMBER, booking_body
from gateway.fhir._xml import to_xml
from gateway.fhir.formats import WireFormat, dump, load
from gateway.fhir.outcome import operation_outcome
from gateway.http.exchange import AUDIT, STORE
from tests.api.conftest import (  # noqa: F401 (the gateway fixture, used by name)
    READ_APPTS,
    READ_SLOTS,
    SERVICE_ROOT_PATH,
    WRITE_APPTS,
    Consumer,
    Gateway,
    gateway,
)
from tests.samples import SHARED_SAMPLES, absent

FHIR_NS = "http://hl7.org/fhir"
XML = "application/fhir+xml"
#: Every request must be answered within this (a hang is a failure).
BUDGET_S = 10.0
SAMPLE = SHARED_SAMPLES / "fhir-stu3" / "booking-api-audit-example-Appointment.json"
#: Patient identifiers of the seeds: none may reach a log line or an audit row.
SECRETS = (EXAMPLE_NHS_NUMBER, "Chalmers", "1974-12-25", "LS1 4HR", "9476719931")

# A stand-in for a slot from a search, a day from now: the seed's shape, no real slot.
_AT = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)
_SLOT = {
    "resourceType": "Slot",
    "id": "fuzz-slot",
    "identifier": [{"system": "https://tools.ietf.org/html/rfc4122", "value": "fuzz-slot"}],
    "schedule": {"reference": "Schedule/fuzz-schedule"},
    "status": "free",
    "start": _AT.isoformat(),
    "end": (_AT + timedelta(minutes=10)).isoformat(),
}


def _sample_xml(path: Path) -> bytes:
    """The shared sample as XML; its string ``text`` (not STU3) becomes a Narrative."""
    data = json.loads(path.read_text(encoding="utf-8"))
    if isinstance(data.get("text"), str):
        div = (
            f'<div xmlns="http://www.w3.org/1999/xhtml">{etree.fromstring(data["text"]).text}</div>'
        )
        data["text"] = {"status": "generated", "div": div}
    return to_xml(data)


def _seeds() -> list[bytes]:
    booking = booking_body(_SLOT)
    booking["participant"][0]["status"] = "accepted"
    seeds = [to_xml(booking)]
    if SAMPLE.exists():
        seeds.append(_sample_xml(SAMPLE))
    return seeds


SEEDS = _seeds()

names = st.from_regex(r"[A-Za-z_][A-Za-z0-9_.-]{0,15}", fullmatch=True)
values = st.one_of(
    st.text(max_size=40).map(lambda t: "".join(c for c in t if c.isprintable())),
    st.sampled_from(["", " ", "9434765919", "2019-13-45T25:61:61Z", "-0", "1e999", "true"]),
)


def _elements(root: etree._Element) -> list[etree._Element]:
    return [e for e in root.iter() if isinstance(e.tag, str)]


Mutation = Callable[[st.DrawFn, etree._Element], bytes | None]


def _unknown_element(draw: st.DrawFn, root: etree._Element) -> bytes | None:
    parent = draw(st.sampled_from(_elements(root)))
    space = draw(st.sampled_from([FHIR_NS, FHIR_NS, "urn:other", ""]))
    tag = f"{{{space}}}{draw(names)}" if space else draw(names)
    child = etree.Element(tag)
    child.set("value", draw(values))
    parent.insert(draw(st.integers(0, len(parent))), child)
    return None


def _drop_element(draw: st.DrawFn, root: etree._Element) -> bytes | None:
    victim = draw(st.sampled_from(_elements(root)[1:]))
    parent = victim.getparent()
    if parent is not None:
        parent.remove(victim)
    return None


def _repeat_element(draw: st.DrawFn, root: etree._Element) -> bytes | None:
    victim = draw(st.sampled_from(_elements(root)[1:]))
    victim.addnext(copy.deepcopy(victim))
    return None


def _change_value(draw: st.DrawFn, root: etree._Element) -> bytes | None:
    valued = [e for e in _elements(root) if e.get("value") is not None]
    draw(st.sampled_from(valued)).set("value", draw(values))
    return None


def _odd_attribute(draw: st.DrawFn, root: etree._Element) -> bytes | None:
    target = draw(st.sampled_from(_elements(root)))
    name = draw(
        st.sampled_from(
            ["id", "value", "url", "{urn:x}a", "{http://www.w3.org/XML/1998/namespace}lang"]
        )
    )
    size = draw(st.sampled_from([0, 1, 1000, 200_000]))
    target.set(name, "x" * size if size else draw(values))
    return None


def _control_characters(draw: st.DrawFn, root: etree._Element) -> bytes | None:
    # lxml will not write them, so they go in as character references: XML 1.0 forbids them.
    text = etree.tostring(root)
    ref = draw(
        st.sampled_from([b"&#0;", b"&#1;", b"&#x1F;", b"&#xFFFE;", b"&#xD800;", b"\x01", b"\x00"])
    )
    return text.replace(b'value="', b'value="' + ref, draw(st.integers(1, 3)))


def _deep_nesting(draw: st.DrawFn, root: etree._Element) -> bytes | None:
    depth = draw(st.sampled_from([10, 300, 5000]))
    name = draw(st.sampled_from(["extension", "contained", "participant", "x"]))
    inner = f"<{name}>" * depth + f"</{name}>" * depth
    text = etree.tostring(root)
    cut = text.index(b">") + 1
    return text[:cut] + inner.encode() + text[cut:]


_DOCTYPES = [
    b'<!DOCTYPE Appointment [<!ENTITY x SYSTEM "file:///etc/passwd">]>',
    b'<!DOCTYPE Appointment [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;'
    b'&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;&c;&c;'
    b'&c;&c;&c;">]>',
    b'<!DOCTYPE Appointment [<!ENTITY % p SYSTEM "http://127.0.0.1:9/x.dtd"> %p;]>',
    b'<!DOCTYPE Appointment SYSTEM "http://127.0.0.1:9/fhir.dtd">',
]


def _doctype(draw: st.DrawFn, root: etree._Element) -> bytes | None:
    text = etree.tostring(root)
    entity = draw(st.sampled_from([b"&x;", b"&d;", b"", b"&undefined;"]))
    text = text.replace(b'value="', b'value="' + entity, 1)
    return b'<?xml version="1.0"?>' + draw(st.sampled_from(_DOCTYPES)) + text


def _namespaces(draw: st.DrawFn, root: etree._Element) -> bytes | None:
    text = etree.tostring(root)
    choice = draw(st.integers(0, 3))
    if choice == 0:  # the same document with a prefix for the FHIR namespace
        prefixed = etree.Element(
            etree.QName(FHIR_NS, etree.QName(root).localname), nsmap={"f": FHIR_NS}
        )
        prefixed.extend(copy.deepcopy(list(root)))
        return etree.tostring(prefixed)
    if choice == 1:  # no namespace at all
        return text.replace(b' xmlns="http://hl7.org/fhir"', b"", 1)
    if choice == 2:  # another namespace
        return text.replace(FHIR_NS.encode(), b"http://hl7.org/fhir/other", 1)
    return text.replace(b"><", b' xmlns="urn:elsewhere"><', draw(st.integers(1, 4)))


def _markup(draw: st.DrawFn, root: etree._Element) -> bytes | None:
    text = etree.tostring(root)
    piece = draw(
        st.sampled_from(
            [b"<!-- note -->", b"<?pi data?>", b"<![CDATA[x]]>", b"text", b"&amp;", b"<div/>"]
        )
    )
    at = draw(st.sampled_from([i + 1 for i, c in enumerate(text) if c == ord(">")]))
    return text[:at] + piece + text[at:]


def _bytes(draw: st.DrawFn, root: etree._Element) -> bytes | None:
    text = etree.tostring(root, xml_declaration=True, encoding="utf-8")
    choice = draw(st.integers(0, 4))
    at = draw(st.integers(0, len(text) - 1))
    if choice == 0:
        return text[:at]
    if choice == 1:
        return text[:at] + bytes([draw(st.integers(0, 255))]) + text[at + 1 :]
    if choice == 2:
        return text[:at] + draw(st.binary(min_size=1, max_size=8)) + text[at:]
    if choice == 3:
        return b"\xef\xbb\xbf" + text
    return text.replace(b"encoding='utf-8'", b"encoding='UTF-16'", 1)


MUTATIONS: list[Mutation] = [
    _unknown_element,
    _drop_element,
    _repeat_element,
    _change_value,
    _odd_attribute,
    _control_characters,
    _deep_nesting,
    _doctype,
    _namespaces,
    _markup,
    _bytes,
]


@st.composite
def hostile_xml(draw: st.DrawFn) -> bytes:
    """A seed with one to three mutations (the last byte-level one ends the chain)."""
    root = etree.fromstring(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 3))):
        out = draw(st.sampled_from(MUTATIONS))(draw, root)
        if out is not None:
            return out
    return bytes(etree.tostring(root, xml_declaration=True, encoding="utf-8"))


def _outcome(content_type: str, body: bytes) -> dict[str, str]:
    """The first issue of an OperationOutcome in either format (fails if it is not one)."""
    if content_type.startswith(XML):
        root = etree.fromstring(body)
        assert root.tag == f"{{{FHIR_NS}}}OperationOutcome", body[:200]
        issue = root.find(f"{{{FHIR_NS}}}issue")
        assert issue is not None
        return {
            child.tag.split("}")[1]: child.get("value") or ""
            for child in issue
            if child.get("value") is not None
        }
    data = json.loads(body)
    assert data["resourceType"] == "OperationOutcome", body[:200]
    issue: dict[str, str] = data["issue"][0]
    return issue


def _assert_clean_answer(status: int, content_type: str, body: bytes, what: object) -> None:
    assert status < 500, (status, body[:300], what)
    if status >= 400:
        issue = _outcome(content_type, body)
        assert issue.get("diagnostics"), (body[:300], what)
        assert b"Traceback" not in body


def _assert_no_secrets(events: list[Any], caplog: pytest.LogCaptureFixture) -> None:
    text = repr(events) + caplog.text
    for secret in SECRETS:
        assert secret not in text, secret


async def _send(consumer: Consumer, method: str, path: str, body: bytes, accept: str) -> Any:
    headers = {
        **consumer.headers(WRITE_APPTS, "create:appointment"),
        "Content-Type": XML,
        "Accept": accept,
    }
    if method == "PUT":
        headers["If-Match"] = 'W/"1"'
    async with asyncio.timeout(BUDGET_S):
        resp = await consumer.client.request(
            method, f"{SERVICE_ROOT_PATH}/{path}", data=body, headers=headers
        )
        return resp.status, resp.headers.get("Content-Type", ""), await resp.read()


async def _audit_is_clean(consumer: Consumer) -> None:
    await consumer.client.app[AUDIT].flush()  # type: ignore[index]
    entries = await consumer.client.app[STORE].audit_entries(10_000)  # type: ignore[union-attr]
    assert entries
    text = repr(entries)
    for secret in SECRETS:
        assert secret not in text, secret


@pytest.fixture
async def fuzz_gateway(gateway: Gateway) -> Consumer:  # noqa: F811 (the imported fixture)
    """One real gateway on 127.0.0.1 for all the examples of a test function."""
    return await gateway()


@given(body=hostile_xml(), accept=st.sampled_from([XML, "application/fhir+json"]))
async def test_hostile_xml_bookings_get_an_outcome_never_a_5xx(
    fuzz_gateway: Consumer, caplog: pytest.LogCaptureFixture, body: bytes, accept: str
) -> None:
    """Mutated and hostile XML bookings: never 5xx, a 4xx is an OperationOutcome, no leak."""
    caplog.set_level(logging.INFO)
    with capture_logs() as events:
        status, content_type, answer = await _send(
            fuzz_gateway, "POST", "Appointment", body, accept
        )
    _assert_clean_answer(status, content_type, answer, body[:400])
    _assert_no_secrets(events, caplog)


@given(body=hostile_xml())
async def test_hostile_xml_cancels_get_an_outcome_never_a_5xx(
    fuzz_gateway: Consumer, caplog: pytest.LogCaptureFixture, body: bytes
) -> None:
    """Mutated XML cancel bodies (PUT) are answered in XML: 4xx OperationOutcome, never 5xx."""
    caplog.set_level(logging.INFO)
    with capture_logs() as events:
        status, content_type, answer = await _send(
            fuzz_gateway, "PUT", "Appointment/fuzz-1", body, XML
        )
    _assert_clean_answer(status, content_type, answer, body[:400])
    assert content_type.startswith(XML)
    _assert_no_secrets(events, caplog)
    await _audit_is_clean(fuzz_gateway)


# Any text a URL can carry (UTF-8: no lone surrogates), with the controls XML forbids.
hostile_text = st.text(
    st.one_of(
        st.characters(codec="utf-8"),
        st.sampled_from(["\x00", "\x01", "\x1f", "\ufffe", "|", "&", "<"]),
    ),
    max_size=30,
)


@given(value=hostile_text, where=st.sampled_from(["service", "status", "start", "_count", "id"]))
async def test_echoed_text_in_xml_errors_is_always_written(
    fuzz_gateway: Consumer, caplog: pytest.LogCaptureFixture, value: str, where: str
) -> None:
    """Row 1: whatever text an XML error echoes (controls, NUL), it is a readable XML outcome."""
    caplog.set_level(logging.INFO)
    if where == "id":
        path = f"{SERVICE_ROOT_PATH}/Appointment/{quote(value, safe='') or 'x'}"
        scope, interaction = READ_APPTS, "read:appointment"
    else:
        query = urlencode({"service": "918999198999", where: value})
        path = f"{SERVICE_ROOT_PATH}/Slot?{query}"
        scope, interaction = READ_SLOTS, "read:slot"
    headers = {**fuzz_gateway.headers(scope, interaction), "Accept": XML}
    with capture_logs() as events:
        async with asyncio.timeout(BUDGET_S):
            resp = await fuzz_gateway.client.get(path, headers=headers)
            answer = await resp.read()
    _assert_clean_answer(resp.status, resp.headers.get("Content-Type", ""), answer, path)
    assert resp.headers["Content-Type"].startswith(XML)
    etree.fromstring(answer)
    assert any(e.get("event") == "request_handled" for e in events)


@given(body=hostile_xml())
def test_load_reads_hostile_xml_or_refuses_it_as_4xx(body: bytes) -> None:
    """formats.load on hostile XML: a resource dict or a 4xx ApiError, nothing else."""
    try:
        data = load(body, WireFormat.XML)
    except ApiError as error:
        assert 400 <= error.kind.spec.status < 500 and error.diagnostics
    else:
        assert isinstance(data.get("resourceType"), str)


def _number(kind: int, digits: int, exponent: int) -> str:
    if kind == 0:
        return "9" * digits
    if kind == 1:
        return "-" + "1" * digits + "." + "5" * digits
    if kind == 2:
        return f"1e{exponent}"
    if kind == 3:
        return f"-0.{'0' * digits}1E-{exponent}"
    return ["NaN", "Infinity", "-Infinity", "-0", "01", "1.", ".5", "+1", "0x10"][digits % 9]


numbers = st.builds(
    _number,
    st.integers(0, 4),
    st.sampled_from([1, 2, 18, 19, 20, 400, 4300, 4301, 6000]),
    st.integers(0, 100_000),
)
json_leaves = st.one_of(
    numbers,
    st.sampled_from(['"\\ud800"', '"\\udfff\\ud800"', '"\\u0000"', '"\\x"', "true", "null", '""']),
    st.text(max_size=10).map(json.dumps),
)


def _container(children: list[str], kind: int) -> str:
    if kind == 0:
        return "[" + ",".join(children) + "]"
    if kind == 1:  # duplicate keys
        return "{" + ",".join(f'"k":{c}' for c in children) + "}"
    return (
        "{"
        + ",".join(f'"k{i}":{c}' for i, c in enumerate(children))
        + ("," if kind == 3 else "")
        + "}"
    )


json_values = st.recursive(
    json_leaves,
    lambda inner: st.builds(_container, st.lists(inner, max_size=4), st.integers(0, 3)),
    max_leaves=12,
)


@st.composite
def json_bodies(draw: st.DrawFn) -> bytes:
    value = draw(json_values)
    text = '{"resourceType": "Appointment", "x": ' + value + "}"
    wrap = draw(st.integers(0, 5))
    if wrap == 1:
        text = "[" * 100_000 + text + "]" * 100_000
    elif wrap == 2:
        text = "\ufeff" + text
    elif wrap == 3:
        text += " trailing"
    elif wrap == 4:
        text = value
    raw = text.encode("utf-8", "surrogatepass")
    return raw + (b"\xff" if wrap == 5 else b"")


@given(body=json_bodies())
def test_load_reads_json_edge_cases_or_refuses_them_as_4xx(body: bytes) -> None:
    """formats.load on JSON number/structure edge cases: a writable dict or a 4xx ApiError."""
    try:
        data = load(body, WireFormat.JSON)
    except ApiError as error:
        assert 400 <= error.kind.spec.status < 500 and error.diagnostics
    else:
        assert isinstance(data, dict)
        dump(data, WireFormat.JSON)


any_text = st.text(
    st.one_of(st.characters(), st.sampled_from(["\ud800", "\udfff", "\x00", "\x0b"]))
)


@given(text=any_text)
def test_any_text_in_an_outcome_is_written_in_both_formats(text: str) -> None:
    """Row 1: an OperationOutcome with any diagnostics text is written in JSON and XML."""
    outcome = operation_outcome(ApiError(ErrorKind.BAD_REQUEST, text or "x"))
    as_json = json.loads(dump(outcome, WireFormat.JSON))
    root = etree.fromstring(dump(outcome, WireFormat.XML))
    written = root.find(f"{{{FHIR_NS}}}issue/{{{FHIR_NS}}}diagnostics")
    assert written is not None
    assert as_json["issue"][0]["diagnostics"]
    assert len(written.get("value") or "") == len(text or "x")


def test_the_shared_sample_is_a_seed() -> None:
    """The shared CareConnect Appointment sample is converted to XML and seeds the fuzzing."""
    if not SAMPLE.exists():
        pytest.skip(absent(SAMPLE))
    assert len(SEEDS) == 2
    assert etree.fromstring(SEEDS[1]).tag == f"{{{FHIR_NS}}}Appointment"
