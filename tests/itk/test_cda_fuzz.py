"""Fuzzing the CDA reader with mutated real reports: a reading or problems, never a trace.

Each example takes a genuine report from ``../shared/samples/itk-cda`` and mutates it: an
element removed, renamed or its text replaced; an attribute set to a hostile value
(5,000 characters, a bad date, a huge number, markup, a control character); or, as
bytes, flipped, cut or given a DOCTYPE. The ``fuzz`` profile (``tests/conftest.py``)
fixes the seed and example count. Invariant: ``read_report``/``read_bytes`` return a
``CdaReading`` that is a referral or names at least one problem.
"""

from __future__ import annotations

import copy

from hypothesis import given
from hypothesis import strategies as st
from lxml import etree

from adapters.cda_toolkit import CdaReading, read_bytes, read_report
from tests.itk.test_cda_read import RECEIVED, sample_document

SAMPLES = (
    "adastra-itk-ooh-referral-dx06-itk-request.xml",
    "primary-emergency-itk-request.xml",
    "tpp-ooh-T6-skillset.xml",
)
HOSTILE = (
    "x" * 5000,
    "20261345256199",
    "-1",
    "99999999999999999999999999",
    "<b>",
    "\x01",
    "",
    " ",
    "9434765919",
    "Dx",
    "😀",
)
ACTIONS = ("remove", "rename", "text", "attribute")


def _valid(reading: CdaReading) -> None:
    assert isinstance(reading, CdaReading)
    assert (reading.referral is None) == bool(reading.problems)


def _safe(value: str) -> str:
    # lxml refuses control characters in a tree; the byte mutations cover those.
    return "".join(ch for ch in value if ch >= " ")


def _mutate(document: etree._Element, action: str, where: int, what: int) -> None:
    elements = [e for e in document.iter() if isinstance(e.tag, str)]
    target = elements[where % len(elements)]
    value = _safe(HOSTILE[what % len(HOSTILE)])
    if action == "remove" and target.getparent() is not None:
        parent = target.getparent()
        assert parent is not None
        parent.remove(target)
    elif action == "rename":
        target.tag = "{urn:hl7-org:v3}unexpected"
    elif action == "text":
        target.text = value
    else:
        names = list(target.attrib) or ["value"]
        target.set(names[what % len(names)], value)


steps = st.lists(
    st.tuples(st.sampled_from(ACTIONS), st.integers(0, 10**6), st.integers(0, 10**6)),
    min_size=1,
    max_size=4,
)


@given(sample=st.sampled_from(SAMPLES), mutations=steps)
def test_a_mutated_report_gives_a_reading_or_problems_never_a_trace(
    sample: str, mutations: list[tuple[str, int, int]]
) -> None:
    """Removing, renaming or rewriting any element or attribute never escapes as an exception."""
    document = copy.deepcopy(sample_document(sample))
    for action, where, what in mutations:
        _mutate(document, action, where, what)
    _valid(read_report(document, received_at=RECEIVED))


@given(
    sample=st.sampled_from(SAMPLES),
    cuts=st.lists(st.tuples(st.integers(0, 10**6), st.binary(max_size=8)), max_size=4),
    doctype=st.booleans(),
)
def test_mutated_report_bytes_give_a_reading_or_problems_never_a_trace(
    sample: str, cuts: list[tuple[int, bytes]], doctype: bool
) -> None:
    """Bytes flipped or cut, or a DOCTYPE put in front, give problems rather than a trace."""
    body = etree.tostring(sample_document(sample))
    for where, insert in cuts:
        at = where % (len(body) + 1)
        body = body[:at] + insert + body[at + len(insert) :]
    if doctype:
        body = b'<!DOCTYPE d [<!ENTITY e "x">]>' + body
    _valid(read_bytes(body, received_at=RECEIVED))
