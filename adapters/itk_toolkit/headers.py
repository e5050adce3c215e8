"""SOAP headers of ITK messages: WS-Addressing and WS-Security, both ways."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from lxml import etree

from adapters.itk_toolkit import names
from adapters.itk_toolkit.names import WSA, WSSE, WSU


def new_id() -> str:
    """A message or tracking id as ITK senders write them (an upper-case UUID)."""
    return str(uuid.uuid4()).upper()


@dataclass(frozen=True, slots=True)
class Addressing:
    """WS-Addressing headers: Action, MessageID, To, ReplyTo, From, RelatesTo."""

    action: str
    message_id: str
    to: str | None = None
    reply_to: str | None = None
    from_: str | None = None
    relates_to: str | None = None


@dataclass(frozen=True, slots=True)
class Security:
    """WS-Security: the Timestamp (Created, Expires) and the UsernameToken's Username."""

    created: datetime | None = None
    expires: datetime | None = None
    username: str | None = None


def stamp(moment: datetime) -> str:
    """xs:dateTime in UTC with a ``Z``, whole seconds."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def read_stamp(text: str | None) -> datetime | None:
    """An xs:dateTime; one without an offset is taken as UTC. ValueError if unreadable."""
    if text is None or not text.strip():
        return None
    value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def header_block(
    action: str, *, relates_to: str | None = None, to: str | None = None
) -> list[etree._Element]:
    """The WS-Addressing headers of an answer: Action, a fresh MessageID, RelatesTo, To."""
    return addressing_elements(Addressing(action, new_id(), to=to, relates_to=relates_to))


def addressing_elements(addressing: Addressing) -> list[etree._Element]:
    out = [_wsa("MessageID", addressing.message_id), _wsa("Action", addressing.action)]
    if addressing.to:
        out.append(_wsa("To", addressing.to))
    for tag, address in (("ReplyTo", addressing.reply_to), ("From", addressing.from_)):
        if address:
            node = etree.Element(WSA.q(tag), nsmap={"wsa": names.WSA_NS})
            WSA.sub(node, "Address", address)
            out.append(node)
    if addressing.relates_to:
        out.append(_wsa("RelatesTo", addressing.relates_to))
    return out


def security_element(security: Security) -> etree._Element:
    node = etree.Element(WSSE.q("Security"), nsmap={"wsse": names.WSSE_NS, "wsu": names.WSU_NS})
    if security.created or security.expires:
        timestamp = WSU.sub(node, "Timestamp")
        timestamp.set(WSU.q("Id"), "uuid_" + new_id())
        if security.created:
            WSU.sub(timestamp, "Created", stamp(security.created))
        if security.expires:
            WSU.sub(timestamp, "Expires", stamp(security.expires))
    if security.username:
        WSSE.sub(WSSE.sub(node, "UsernameToken"), "Username", security.username)
    return node


def _wsa(tag: str, text: str) -> etree._Element:
    node = etree.Element(WSA.q(tag), nsmap={"wsa": names.WSA_NS})
    node.text = text
    return node


def _address(header: etree._Element, tag: str) -> str | None:
    node = WSA.child(header, tag)
    if node is None:
        return None
    inner = WSA.text(node, "Address")
    return (inner if inner is not None else node.text or "").strip() or None


def read_addressing(header: etree._Element | None) -> Addressing:
    """WS-Addressing headers; an absent Action or MessageID reads as an empty string."""
    if header is None:
        return Addressing("", "")
    return Addressing(
        action=(WSA.text(header, "Action") or "").strip(),
        message_id=(WSA.text(header, "MessageID") or "").strip(),
        to=(WSA.text(header, "To") or "").strip() or None,
        reply_to=_address(header, "ReplyTo"),
        from_=_address(header, "From"),
        relates_to=(WSA.text(header, "RelatesTo") or "").strip() or None,
    )


def read_security(header: etree._Element | None) -> Security | None:
    """WS-Security headers, None when absent; ValueError when a timestamp is unreadable."""
    node = None if header is None else WSSE.child(header, "Security")
    if node is None:
        return None
    timestamp = WSU.child(node, "Timestamp")
    token = WSSE.child(node, "UsernameToken")
    return Security(
        created=None if timestamp is None else read_stamp(WSU.text(timestamp, "Created")),
        expires=None if timestamp is None else read_stamp(WSU.text(timestamp, "Expires")),
        username=None if token is None else (WSSE.text(token, "Username") or "").strip() or None,
    )


def with_header(envelope: bytes, blocks: list[etree._Element]) -> bytes:
    """``envelope`` (our own SOAP bytes) with a Header holding ``blocks`` before its Body."""
    root = etree.fromstring(envelope)
    header = etree.Element(f"{{{etree.QName(root).namespace}}}Header")
    header.extend(blocks)
    root.insert(0, header)
    return bytes(etree.tostring(root, xml_declaration=True, encoding="utf-8"))
