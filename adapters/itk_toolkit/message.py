"""An ITK request: SOAP 1.1/1.2 with WS-Addressing and WS-Security around a DistributionEnvelope.

``read_message`` takes untrusted bytes (hardened XML: no DTD or entities, a
size limit before parsing and a depth limit after) and refuses anything it
cannot read with an ``ItkError`` whose code is the one to answer with.
``build_message`` writes one for a sender.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from lxml import etree

from adapters.itk_toolkit import names
from adapters.itk_toolkit.distribution import (
    DistributionEnvelope,
    distribution_element,
    read_distribution,
)
from adapters.itk_toolkit.errors import ItkError, ToolkitCode
from adapters.itk_toolkit.headers import (
    Addressing,
    Security,
    addressing_elements,
    read_addressing,
    read_security,
    security_element,
    with_header,
)
from adapters.soap_toolkit import hardened_xml
from adapters.soap_toolkit.envelope import SoapError, SoapVersion, body_child, envelope, version_of

XINCLUDE_NS = "http://www.w3.org/2001/XInclude"


@dataclass(frozen=True, slots=True)
class ItkMessage:
    version: SoapVersion
    addressing: Addressing
    security: Security | None
    distribution: DistributionEnvelope
    #: sha256 of the DistributionEnvelope's canonical XML (a resend renews only SOAP headers).
    digest: str = ""


def depth(root: etree._Element) -> int:
    """How deep the element tree goes (the root alone is 1)."""
    deepest, stack = 0, [(root, 1)]
    while stack:
        node, level = stack.pop()
        deepest = max(deepest, level)
        stack.extend((child, level + 1) for child in node if isinstance(child.tag, str))
    return deepest


def parse_soap(body: bytes, *, max_bytes: int, max_depth: int) -> etree._Element:
    """The hardened root of an ITK SOAP message (no DTD, entity or XInclude; within the
    size and depth limits); ``ItkError(XML_REFUSED or INVALID_MESSAGE)`` otherwise."""
    try:
        root = hardened_xml.parse(body, max_bytes=max_bytes)
    except hardened_xml.HostileXml as exc:
        raise ItkError(ToolkitCode.XML_REFUSED, exc.reason.replace("_", " ")) from None
    except hardened_xml.XmlRejected:
        raise ItkError(ToolkitCode.INVALID_MESSAGE, "the body is not well-formed XML") from None
    if depth(root) > max_depth:
        raise ItkError(ToolkitCode.XML_REFUSED, f"elements nested deeper than {max_depth}")
    if next(root.iter(f"{{{XINCLUDE_NS}}}*"), None) is not None:
        # Never expanded here; refused so that no later reader is tempted to.
        raise ItkError(ToolkitCode.XML_REFUSED, "XInclude")
    return root


def read_message(body: bytes, *, max_bytes: int, max_depth: int) -> ItkMessage:
    root = parse_soap(body, max_bytes=max_bytes, max_depth=max_depth)
    try:
        version = version_of(root)
        element = body_child(root, version)
    except SoapError as exc:
        raise ItkError(ToolkitCode.INVALID_MESSAGE, str(exc)) from None
    header = root.find(f"{{{version.namespace}}}Header")
    try:
        security = read_security(header)
    except ValueError:
        raise ItkError(
            ToolkitCode.INVALID_MESSAGE, "a WS-Security timestamp is unreadable"
        ) from None
    distribution = read_distribution(element)
    digest = hashlib.sha256(etree.tostring(element, method="c14n")).hexdigest()
    return ItkMessage(version, read_addressing(header), security, distribution, digest)


def build_message(message: ItkMessage) -> bytes:
    """The SOAP request bytes of ``message`` (headers: addressing, then security)."""
    blocks = addressing_elements(message.addressing)
    if message.security is not None:
        blocks.append(security_element(message.security))
    bare = envelope(message.version, distribution_element(message.distribution), names.NSMAP)
    return with_header(bare, blocks)
