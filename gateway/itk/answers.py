"""The ITK door's answers: the infrastructure ack, with a business ack when asked, or a fault.

The synchronous answer to an accepted message is the infrastructure ack
(``SimpleMessageResponse`` ``OK:<tracking id>``, Action ``<service>Response``).
When the handling specification asks for a business ack (``ackrequested``),
the same answer carries it as a SOAP header block (the business ack's own
DistributionEnvelope), since a synchronous sender with an anonymous ReplyTo has
no other channel back; senders that do not ask never see it. Faults: HTTP 500
for SOAP 1.1 (SOAP 1.1 section 6.2), 400 or 500 by side for SOAP 1.2.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from lxml import etree

from adapters.domain import utcnow
from adapters.itk_toolkit import acks
from adapters.itk_toolkit.distribution import Address, distribution_element
from adapters.itk_toolkit.errors import ItkError, ToolkitErrorInfo, build_fault
from adapters.itk_toolkit.message import ItkMessage
from adapters.soap_toolkit.envelope import SoapVersion


@dataclass(frozen=True, slots=True)
class Answer:
    body: bytes
    status: int
    version: SoapVersion

    @property
    def headers(self) -> dict[str, str]:
        return {"Content-Type": f"{self.version.media_type}; charset=utf-8"}


def fault(error: ItkError, version: SoapVersion, relates_to: str | None) -> Answer:
    info = ToolkitErrorInfo.of(error)
    sender = error.code.sender
    status = 500 if version is SoapVersion.V11 or not sender else 400
    return Answer(build_fault(version, info, sender=sender, relates_to=relates_to), status, version)


def business_ack(
    message: ItkMessage, us: Address, document_id: str | None, refused: ItkError | None
) -> acks.BusinessAck:
    return acks.BusinessAck(
        ack_id=str(uuid.uuid4()).upper(),
        created=utcnow(),
        tracking_id_ref=message.distribution.tracking_id,
        document_id=document_id,
        accepted=refused is None,
        sender=us,
        recipient=message.distribution.sender,
        error_code=None if refused is None else refused.code.code,
        error_text=None if refused is None else f"{refused.code.text}: {refused.diagnostic}",
    )


def accepted(
    message: ItkMessage, us: Address, document_id: str | None, refused: ItkError | None = None
) -> Answer:
    """The infrastructure ack, carrying the business ack (or nack) when the sender asked."""
    envelope = message.distribution
    extra: tuple[etree._Element, ...] = ()
    if envelope.business_ack_requested:
        ack = business_ack(message, us, document_id, refused)
        extra = (distribution_element(acks.business_ack_envelope(ack)),)
    body = acks.simple_response(
        message.version,
        service=envelope.service,
        tracking_id=envelope.tracking_id,
        relates_to=message.addressing.message_id or None,
        extra_headers=extra,
    )
    return Answer(body, 200, message.version)
