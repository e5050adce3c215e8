"""Fuzzing the SOAP diary adapter with a hostile peer that mutates its own genuine answers.

The reference SOAP peer (``adapters/soap_diary/peer``) answers each call for real; its
``rewrite`` hook (``peer/hostile.py``) then mutates the answer: bytes flipped, inserted or
cut; an element renamed or its text replaced by a hostile value (5,000 characters, a bad
date, a negative or huge number, markup, a control character); a DOCTYPE or an entity put
in; the namespace or the encoding declaration changed; a SOAP Fault put in its place; the
HTTP status or Content-Type changed. Invariants: the adapter returns a result or raises a
typed adapter error (``adapters/errors.py``), never a foreign exception, and within its
deadline (never a hang).
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.domain import Slot
from adapters.errors import AdapterError
from adapters.soap_diary import SoapDiaryAdapter, create
from adapters.soap_diary._faults import fault as diary_fault
from adapters.soap_diary.peer import RunningSoapPeer
from adapters.soap_diary.peer.hostile import Answer, xxe
from adapters.soap_toolkit import envelope as soap
from tests.contract.builders import bookable, booking_request, call_context
from tests.soap_diary.conftest import MIU_SERVICE, PASSWORD, PASSWORD_ENV, open_peer, soap_options

#: The adapter's own timeout is 2 s (soap_options); a call may take at most this long.
DEADLINE_S = 4.0
HOSTILE_TEXT = (
    "x" * 5000,
    "2026-13-45T25:61",
    "-1",
    "99999999999999999999999999",
    "<b>",
    "&amp;",
    "\x01",
    "",
    " ",
    "NaN",
    "9434765919",
    "😀",
)
_ELEMENT = re.compile(rb"<([A-Za-z_][\w.:-]*)[ >/]")
_TEXT = re.compile(rb">([^<>]+)</")


def _version_of(body: bytes) -> soap.SoapVersion:
    return next((v for v in soap.SoapVersion if v.namespace.encode() in body), soap.SoapVersion.V11)


#: One mutation: its kind and two numbers that pick where and what (taken modulo).
Step = tuple[str, int, int]
KINDS = ("flip", "insert", "cut", "rename", "text", "doctype", "ns", "fault")
INSERTS = (b"<", b"&", b"]]>", b"\x00", b"&x;")
NAMES = (b"Zz", b"d:Other", b"x1")


def _mutate(body: bytes, step: Step) -> bytes:
    """``body`` after one mutation, as a broken or hostile supplier would send it."""
    kind, a, b = step
    at = a % max(len(body), 1)
    if kind == "flip":
        return body[:at] + bytes([b % 256]) + body[at + 1 :]
    if kind == "insert":
        return body[:at] + INSERTS[b % len(INSERTS)] + body[at:]
    if kind == "cut":
        return body[:at]
    if kind == "rename":
        names = _ELEMENT.findall(body)
        name = names[a % len(names)] if names else b"Envelope"
        return body.replace(name, NAMES[b % len(NAMES)], 2)
    if kind == "text":
        texts = _TEXT.findall(body)
        if not texts:
            return body
        new = HOSTILE_TEXT[b % len(HOSTILE_TEXT)].encode("utf-8").replace(b"<", b"&lt;")
        return body.replace(b">" + texts[a % len(texts)] + b"<", b">" + new + b"<", 1)
    if kind == "doctype":
        return xxe(_version_of(body))
    if kind == "ns":
        return body.replace(b"http", b"urn:evil", 1)
    return diary_fault(_version_of(body), a % 2 == 0, "x" * (b % 300), "CODE")


Recipe = tuple[tuple[Step, ...], int | None, str | None]
STEPS = st.tuples(st.sampled_from(KINDS), st.integers(0, 10**6), st.integers(0, 10**6))
RECIPES = st.tuples(
    st.lists(STEPS, min_size=1, max_size=3).map(tuple),
    st.sampled_from((None, 200, 500, 400, 302, 204)),
    st.sampled_from((None, "text/html", "application/json", "text/xml; charset=utf-16")),
)


def _rewrite(recipe: Recipe, genuine: Answer) -> Answer:
    """The genuine answer with the recipe's mutations, status and Content-Type applied."""
    steps, status, content_type = recipe
    body = genuine.body
    for step in steps:
        body = _mutate(body, step)
    return Answer(status or genuine.status, content_type or genuine.content_type, body)


@pytest.fixture
async def hostile(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[RunningSoapPeer]:
    """The reference SOAP peer on 127.0.0.1, ready to be made hostile."""
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
    running = await open_peer(tmp_path / "soap-peer.sqlite3")
    yield running
    await running.stop()


@pytest.fixture
async def soap_adapter(
    hostile: RunningSoapPeer, tmp_path: Path
) -> AsyncIterator[tuple[SoapDiaryAdapter, Slot]]:
    """The SOAP adapter over the peer, and a slot it can book (found before any mutation)."""
    adapter = await create("soap", soap_options(hostile), tmp_path)
    assert isinstance(adapter, SoapDiaryAdapter)
    slots = (await adapter.search_slots(bookable(MIU_SERVICE), call_context())).slots
    try:
        yield adapter, slots[0]
    finally:
        await adapter.close()


@given(data=st.data())
async def test_every_mutated_answer_is_a_result_or_a_typed_error(
    hostile: RunningSoapPeer,
    soap_adapter: tuple[SoapDiaryAdapter, Slot],
    data: st.DataObject,
) -> None:
    """Search, book, read, cancel, ping under mutated answers: typed errors only, no hang."""
    adapter, slot = soap_adapter
    recipe = data.draw(RECIPES)
    operation = data.draw(st.sampled_from(("search", "book", "get", "cancel", "health")))
    reference = data.draw(st.sampled_from(("1", "42", "999999")))
    hostile.state.rewrite = lambda _operation, genuine: _rewrite(recipe, genuine)
    began = time.monotonic()
    try:
        async with asyncio.timeout(DEADLINE_S):
            if operation == "search":
                await adapter.search_slots(bookable(MIU_SERVICE), call_context())
            elif operation == "book":
                await adapter.book(booking_request(slot), call_context())
            elif operation in ("get", "cancel"):
                call = adapter.get if operation == "get" else adapter.cancel
                await call(reference, call_context())
            else:
                await adapter.health()
    except AdapterError:
        pass  # the typed error the gateway turns into an answer
    finally:
        hostile.state.rewrite = None
    assert time.monotonic() - began < DEADLINE_S
