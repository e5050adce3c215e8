"""Hostile XML from the supplier (XXE, billion laughs, oversized) is refused and logged safely."""

from __future__ import annotations

import pytest
from structlog.testing import capture_logs

from adapters.domain import SlotQuery
from adapters.errors import SupplierProtocolError
from adapters.soap_diary import HostileXml
from adapters.soap_diary._wire import parse
from adapters.soap_diary.peer import FaultSpec, Mode, RunningSoapPeer
from adapters.soap_diary.peer.hostile import billion_laughs, oversized, xxe
from adapters.soap_toolkit.envelope import SoapVersion
from tests.contract.builders import call_context
from tests.soap_diary.conftest import MIU_SERVICE, AdapterFactory, soap_options


@pytest.mark.parametrize(
    ("mode", "reason"),
    [(Mode.XXE, "doctype"), (Mode.BILLION_LAUGHS, "doctype")],
)
async def test_hostile_answer_is_refused_with_a_clear_error(
    make_adapter: AdapterFactory, peer: RunningSoapPeer, mode: Mode, reason: str
) -> None:
    """The adapter raises SupplierProtocolError and logs a refusal with size and hash only."""
    adapter = await make_adapter(soap_options(peer))
    peer.fault(FaultSpec(mode=mode))
    with capture_logs() as events, pytest.raises(HostileXml) as caught:
        await adapter.search_slots(SlotQuery(service_id=MIU_SERVICE), call_context())
    assert isinstance(caught.value, SupplierProtocolError)
    assert "XML refused" in str(caught.value)
    refused = [e for e in events if e["event"] == "supplier_xml_refused"]
    assert len(refused) == 1 and refused[0]["reason"] == reason
    assert set(refused[0]) >= {"size", "sha256"}
    for event in events:
        text = repr(event)
        assert "ENTITY" not in text and "lol" not in text and "<d:" not in text
    assert peer.state.stats["search"] == 1  # a hostile answer is not worth asking again


async def test_oversized_answer_is_refused_while_reading(
    make_adapter: AdapterFactory, peer: RunningSoapPeer
) -> None:
    """A 4.6 MB answer stops at max_body_bytes (never parsed): SupplierProtocolError, logged."""
    adapter = await make_adapter(soap_options(peer, max_body_bytes=100_000))
    peer.fault(FaultSpec(mode=Mode.OVERSIZED))
    with capture_logs() as events, pytest.raises(SupplierProtocolError, match="too large"):
        await adapter.search_slots(SlotQuery(service_id=MIU_SERVICE), call_context())
    failed = [e for e in events if e["event"] == "supplier_call_failed"]
    assert failed and failed[0]["error_type"] == "_TooLarge"
    assert all("<d:Status>" not in repr(e) for e in events)


@pytest.mark.parametrize("version", list(SoapVersion))
def test_parser_refuses_entities_even_without_the_byte_precheck(version: SoapVersion) -> None:
    """A UTF-16 XXE (which hides '<!DOCTYPE' from a byte search) is still refused."""
    body = xxe(version).decode().replace('<?xml version="1.0"?>', "").encode("utf-16")
    with pytest.raises(SupplierProtocolError):
        parse(body, max_bytes=1_000_000, source="test")


def test_billion_laughs_and_oversized_are_refused_fast() -> None:
    """Neither payload is expanded: both are refused before any parse work grows."""
    with pytest.raises(HostileXml):
        parse(billion_laughs(SoapVersion.V11), max_bytes=1_000_000, source="test")
    with pytest.raises(HostileXml, match="too large"):
        parse(oversized(SoapVersion.V11), max_bytes=1_000_000, source="test")


def test_file_contents_never_reach_a_parsed_tree() -> None:
    """Even if the pre-check were bypassed, the parser resolves no external entity."""
    from lxml import etree

    from adapters.soap_toolkit.hardened_xml import _parser

    tree = etree.fromstring(xxe(SoapVersion.V11), _parser())
    assert "root:" not in etree.tostring(tree, encoding="unicode")
