"""One table of ``ToolkitErrorInfo`` codes, and the ITK SOAP fault both ways.

ITK 2.2 faults carry a ``ToolkitErrorInfo`` in the SOAP fault detail: a fresh
``ErrorID`` (a UUID per fault), an ``ErrorCode`` from the code system
``2.16.840.1.113883.2.1.3.2.4.17.268``, ``ErrorText`` and ``ErrorDiagnosticText``.
The series follow the NHS 111 adaptor and its test harness (the itk-responses
samples): 1000 the message is invalid (the texts of the manifest and action
checks are the samples' own), 2000 the service, interaction or address is not
one this receiver serves, 3000 the payload was not accepted or processing
failed. 1000 and 2000 are Client faults; 3000 is Client when the content is at
fault and Server when we are.
"""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass

from lxml import etree

from adapters.itk_toolkit import names
from adapters.itk_toolkit.headers import header_block, with_header
from adapters.itk_toolkit.names import ITK
from adapters.soap_toolkit import hardened_xml
from adapters.soap_toolkit.envelope import (
    SoapVersion,
    body_child,
    fault,
    is_fault,
    read_fault,
    version_of,
)

CLIENT_REASON = "A client related error has occurred, see detail element for further information"
SERVER_REASON = "A server related error has occurred, see detail element for further information"


@dataclass(frozen=True, slots=True)
class Code:
    """One row of the table: ErrorCode, ErrorText, and whether the sender is at fault."""

    code: str
    text: str
    sender: bool = True


class ToolkitCode(enum.Enum):
    """Every ToolkitErrorInfo this gateway sends or recognises."""

    INVALID_MESSAGE = Code("1000", "Invalid message")
    MANIFEST_INSTANCES = Code(
        "1000", "The number of manifest instances does not match the manifest count specified"
    )
    PAYLOAD_INSTANCES = Code(
        "1000", "The number of payload instances does not match the payload count specified"
    )
    MANIFEST_PAYLOAD_COUNT = Code("1000", "Manifest count does not match payload count")
    PAYLOAD_IDS = Code("1000", "Payload IDs do not map to Manifest IDs")
    ACTION_SERVICE = Code("1000", "Manifest action does not match service action")
    XML_REFUSED = Code("1001", "XML refused: DTDs, entities, oversize and overdeep documents")
    SOAP_VERSION = Code("1002", "SOAP version or media type not accepted")
    TRACKING_ID_REUSED = Code("1003", "Tracking id already used for another message")
    EXPIRED = Code("1100", "Message expired: the WS-Security Timestamp has passed")
    UNKNOWN_SERVICE = Code("2000", "Service not supported")
    UNKNOWN_INTERACTION = Code("2001", "Interaction not supported")
    UNKNOWN_ADDRESS = Code("2100", "Address not known to this receiver")
    PAYLOAD_REFUSED = Code("3000", "Payload not accepted")
    PROCESSING_FAILED = Code("3100", "Processing failed; send again later", sender=False)
    IN_PROGRESS = Code(
        "3101", "The same tracking id is being processed; send again later", sender=False
    )

    @property
    def code(self) -> str:
        return self.value.code

    @property
    def text(self) -> str:
        return self.value.text

    @property
    def sender(self) -> bool:
        return self.value.sender

    @classmethod
    def find(cls, code: str, text: str) -> ToolkitCode | None:
        """The row for (code, text); the first row of that code when the text is someone else's."""
        rows = [row for row in cls if row.code == code]
        exact = [row for row in rows if row.text == text]
        found = exact or rows
        return found[0] if found else None


class ItkError(ValueError):
    """An ITK message refused for ``code``; ``diagnostic`` names what (never patient data)."""

    def __init__(self, code: ToolkitCode, diagnostic: str) -> None:
        super().__init__(f"{code.text}: {diagnostic}")
        self.code = code
        self.diagnostic = diagnostic


@dataclass(frozen=True, slots=True)
class ToolkitErrorInfo:
    error_id: str
    code: str
    text: str
    diagnostic: str | None = None

    @classmethod
    def of(cls, error: ItkError) -> ToolkitErrorInfo:
        return cls(str(uuid.uuid4()).upper(), error.code.code, error.code.text, error.diagnostic)

    @property
    def row(self) -> ToolkitCode | None:
        return ToolkitCode.find(self.code, self.text)


def error_info_element(parent: etree._Element, info: ToolkitErrorInfo, tag: str) -> None:
    """``info`` as ``tag`` (``ToolkitErrorInfo`` or ``errorInfo``) under ``parent``."""
    node = ITK.sub(parent, tag)
    ITK.sub(node, "ErrorID", info.error_id)
    ITK.sub(node, "ErrorCode", info.code, codeSystem=names.ERROR_CODE_SYSTEM)
    ITK.sub(node, "ErrorText", info.text)
    if info.diagnostic:
        ITK.sub(node, "ErrorDiagnosticText", info.diagnostic)


def read_error_info(node: etree._Element) -> ToolkitErrorInfo:
    return ToolkitErrorInfo(
        error_id=(ITK.text(node, "ErrorID") or "").strip(),
        code=(ITK.text(node, "ErrorCode") or "").strip(),
        text=(ITK.text(node, "ErrorText") or "").strip(),
        diagnostic=(ITK.text(node, "ErrorDiagnosticText") or "").strip() or None,
    )


def build_fault(
    version: SoapVersion, info: ToolkitErrorInfo, *, sender: bool, relates_to: str | None = None
) -> bytes:
    """The ITK SOAP fault: WS-Addressing fault action and a fresh MessageID, the info in detail."""
    body = fault(
        version,
        sender,
        CLIENT_REASON if sender else SERVER_REASON,
        lambda holder: error_info_element(holder, info, "ToolkitErrorInfo"),
        names.NSMAP,
    )
    return with_header(body, header_block(names.FAULT_ACTION, relates_to=relates_to))


@dataclass(frozen=True, slots=True)
class ItkFault:
    sender: bool
    reason: str
    info: ToolkitErrorInfo | None


def read_fault_body(element: etree._Element) -> ItkFault | None:
    """The ITK fault in a SOAP Body's element; None when it is not a fault."""
    if not is_fault(element):
        return None
    soap = read_fault(element)
    node = None if soap.detail is None else ITK.child(soap.detail, "ToolkitErrorInfo")
    info = None if node is None else read_error_info(node)
    return ItkFault(soap.sender, soap.reason.strip(), info)


def parse_fault(body: bytes, *, max_bytes: int = 1 << 20) -> ItkFault | None:
    """The ITK fault in a SOAP answer (either version); None when the answer is not a fault."""
    root = hardened_xml.parse(body, max_bytes=max_bytes)
    return read_fault_body(body_child(root, version_of(root)))
