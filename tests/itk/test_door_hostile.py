"""Hostile XML is refused (fault 1001) before anything is read, and never echoed."""

from __future__ import annotations

import pytest

from adapters.itk_toolkit.errors import ToolkitCode, parse_fault
from tests.itk import messages
from tests.itk.conftest import Sender

ENVELOPE = b'<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>%s</s:Body></s:Envelope>'

HOSTILE = {
    "doctype": b'<?xml version="1.0"?><!DOCTYPE s [<!ENTITY x "y">]>' + ENVELOPE % b"<a>&x;</a>",
    "external_entity": b'<?xml version="1.0"?><!DOCTYPE s [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
    + ENVELOPE % b"<a>&x;</a>",
    "xinclude": ENVELOPE
    % b'<a xmlns:xi="http://www.w3.org/2001/XInclude"><xi:include href="file:///etc/passwd"/></a>',
    "too_deep": ENVELOPE % (b"<a>" * 100 + b"</a>" * 100),
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
async def test_hostile_xml_is_refused(sender: Sender, name: str) -> None:
    """DTDs, entities, XInclude and over-deep trees are fault 1001; no file content comes back."""
    resp = await sender.send(HOSTILE[name])
    text = await resp.read()
    assert resp.status == 500 and b"root:" not in text
    fault = parse_fault(text)
    assert fault is not None and fault.info is not None
    assert fault.info.row is ToolkitCode.XML_REFUSED


async def test_an_oversized_body_is_refused_without_reading_it(sender: Sender) -> None:
    """A body over itk.max_body_bytes is fault 1001 'too large'."""
    body = messages.sample() + b" " * sender.settings.itk.max_body_bytes  # type: ignore[union-attr]
    fault = parse_fault(await (await sender.send(body)).read())
    assert fault is not None and fault.info is not None
    assert fault.info.row is ToolkitCode.XML_REFUSED and fault.info.diagnostic == "too large"


async def test_malformed_xml_is_an_invalid_message(sender: Sender) -> None:
    """Bytes that are not XML are fault 1000 Invalid message."""
    fault = parse_fault(await (await sender.send(b"<s:Envelope")).read())
    assert fault is not None and fault.info is not None
    assert fault.info.row is ToolkitCode.INVALID_MESSAGE
