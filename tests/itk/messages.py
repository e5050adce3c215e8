"""ITK requests for the door's tests: the samples as sent, and edited copies of them."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime

from lxml import etree

from adapters.itk_toolkit.headers import read_stamp
from adapters.itk_toolkit.names import INTERACTION_KEY, ITK, WSA, WSU
from tests.itk import samples

#: The sample most edits start from (one payload, WS-Security, SOAP 1.1).
BASE = "primary-emergency-itk-request.xml"


def sample(name: str = BASE) -> bytes:
    return (samples.CDA_DIR / name).read_bytes()


def created(body: bytes) -> datetime | None:
    """The WS-Security Created of a request (when its sender wrote it), if any."""
    node = next(etree.fromstring(body).iter(WSU.q("Created")), None)
    return None if node is None else read_stamp(node.text)


def edit(body: bytes, change: Callable[[etree._Element], object]) -> bytes:
    root = etree.fromstring(body)
    change(root)
    return bytes(etree.tostring(root, xml_declaration=True, encoding="utf-8"))


def header(root: etree._Element) -> etree._Element:
    return next(root.iter(ITK.q("header")))


def retracked(body: bytes) -> tuple[bytes, str]:
    """``body`` with a fresh tracking id (a different message), and that id."""
    tracking = str(uuid.uuid4()).upper()
    return edit(body, lambda root: header(root).set("trackingid", tracking)), tracking


def set_action(root: etree._Element, action: str) -> None:
    next(root.iter(WSA.q("Action"))).text = action


def set_interaction(root: etree._Element, value: str) -> None:
    for spec in root.iter(ITK.q("spec")):
        if spec.get("key") == INTERACTION_KEY:
            spec.set("value", value)


def ask_business_ack(root: etree._Element) -> None:
    spec = next(root.iter(ITK.q("handlingSpecification")))
    ITK.sub(spec, "spec", key="urn:nhs-itk:ns:201005:ackrequested", value="true")


def tracking_id(body: bytes) -> str:
    return header(etree.fromstring(body)).get("trackingid", "")


def document_id(body: bytes) -> str:
    root = etree.fromstring(body)
    node = next(root.iter("{urn:hl7-org:v3}ClinicalDocument")).find("{urn:hl7-org:v3}id")
    assert node is not None
    return node.get("root", "")
