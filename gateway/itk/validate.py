"""What the ITK door checks before a message's payloads are read.

In order, each failure an ``ItkError`` with its ToolkitErrorInfo code: the
SOAP version matches the media type; the WS-Addressing Action repeats the
header's service (1000, as the NHS 111 adaptor's harness answers), the service
and the interaction are ones the door serves (2000, 2001); the WS-Security
Timestamp, when sent, has not expired and was not made in the future (1100,
``clock_skew_s`` either way, from the injected clock); manifest and payloads
agree (1000, the samples' texts); every address maps to a service and all to
the same one (2100).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from adapters.itk_toolkit.distribution import DistributionEnvelope, check_manifest
from adapters.itk_toolkit.errors import ItkError, ToolkitCode
from adapters.itk_toolkit.headers import Security
from adapters.itk_toolkit.message import ItkMessage
from adapters.soap_toolkit.envelope import SoapVersion
from gateway.itk.tables import Tables


@dataclass(frozen=True, slots=True)
class Accepted:
    """A message whose envelope passed: the service it is for and how many documents."""

    service_id: str
    document_set: bool


def media_version(content_type: str) -> SoapVersion | None:
    """The SOAP version a request's media type announces; None for another type."""
    media = content_type.split(";", 1)[0].strip().lower()
    for version in SoapVersion:
        if media == version.media_type:
            return version
    return None


def check_version(announced: SoapVersion | None, message: ItkMessage) -> None:
    if announced is not message.version:
        said = announced.value if announced else "no SOAP media type"
        raise ItkError(
            ToolkitCode.SOAP_VERSION,
            f"the envelope is SOAP {message.version.value}, the Content-Type says {said}",
        )


def check_timestamp(security: Security | None, now: datetime, skew: timedelta) -> None:
    if security is None:
        return
    if security.expires is not None and security.expires + skew < now:
        raise ItkError(ToolkitCode.EXPIRED, "the WS-Security Timestamp Expires has passed")
    if security.created is not None and security.created - skew > now:
        raise ItkError(ToolkitCode.EXPIRED, "the WS-Security Timestamp Created is in the future")


def _service(message: ItkMessage, tables: Tables) -> None:
    envelope = message.distribution
    if message.addressing.action != envelope.service:
        raise ItkError(
            ToolkitCode.ACTION_SERVICE,
            f"Action '{message.addressing.action[:100]}', service '{envelope.service[:100]}'",
        )
    if envelope.service not in tables.services:
        raise ItkError(ToolkitCode.UNKNOWN_SERVICE, f"service '{envelope.service[:100]}'")


def _interaction(envelope: DistributionEnvelope, tables: Tables) -> str:
    interaction = envelope.interaction or ""
    kind = tables.interactions.get(interaction)
    if kind is None:
        raise ItkError(ToolkitCode.UNKNOWN_INTERACTION, f"interaction '{interaction[:100]}'")
    return kind


def _documents(envelope: DistributionEnvelope, kind: str) -> None:
    if kind == "one" and len(envelope.payloads) != 1:
        raise ItkError(
            ToolkitCode.INVALID_MESSAGE,
            f"the interaction carries one document, not {len(envelope.payloads)}",
        )
    if not envelope.payloads:
        raise ItkError(ToolkitCode.INVALID_MESSAGE, "the message carries no payload")


def _service_id(envelope: DistributionEnvelope, tables: Tables) -> str:
    if not envelope.addresses:
        raise ItkError(ToolkitCode.UNKNOWN_ADDRESS, "the address list is empty")
    found: set[str] = set()
    for address in envelope.addresses:
        service = tables.service_for(address.kind, address.key)
        if service is None:
            raise ItkError(
                ToolkitCode.UNKNOWN_ADDRESS, f"{address.kind} address '{address.key[:60]}'"
            )
        found.add(service)
    if len(found) != 1:
        raise ItkError(ToolkitCode.UNKNOWN_ADDRESS, "the addresses name more than one service")
    return found.pop()


def accept(
    message: ItkMessage,
    announced: SoapVersion | None,
    tables: Tables,
    now: datetime,
    skew: timedelta,
) -> Accepted:
    """``Accepted`` when the envelope passes every check; the first failure raises ``ItkError``."""
    check_version(announced, message)
    _service(message, tables)
    kind = _interaction(message.distribution, tables)
    check_timestamp(message.security, now, skew)
    check_manifest(message.distribution)
    _documents(message.distribution, kind)
    return Accepted(_service_id(message.distribution, tables), kind == "set")
