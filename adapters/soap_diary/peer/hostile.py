"""Hostile answers the SOAP peer can send on request, to prove the adapter refuses them.

Each is a complete SOAP envelope that a careless parser would act on: an
external entity reading a local file (XXE), nested entities that expand to
gigabytes (billion laughs), and a body far above any sane answer size.

A ``Rewrite`` set on the peer's state makes it a hostile peer of any kind: it
is given each genuine answer (status, Content-Type, body) and sends what it
returns instead, so a test can mutate real answers at will (fuzzing).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from adapters.diary_toolkit.peer.faults import Mode
from adapters.soap_diary._wire import NS
from adapters.soap_toolkit.envelope import SoapVersion


@dataclass(frozen=True, slots=True)
class Answer:
    """An HTTP answer of the peer, as a rewrite sees and returns it."""

    status: int
    content_type: str
    body: bytes


#: (operation, the genuine answer) -> the answer sent instead.
Rewrite = Callable[[str, Answer], Answer]


def _wrap(version: SoapVersion, doctype: str, inner: str) -> bytes:
    return (
        f'<?xml version="1.0"?>{doctype}'
        f'<soap:Envelope xmlns:soap="{version.namespace}" xmlns:d="{NS}"><soap:Body>'
        f"{inner}</soap:Body></soap:Envelope>"
    ).encode()


def xxe(version: SoapVersion) -> bytes:
    doctype = '<!DOCTYPE d [<!ENTITY leak SYSTEM "file:///etc/passwd">]>'
    return _wrap(version, doctype, "<d:PingResponse><d:Status>&leak;</d:Status></d:PingResponse>")


def billion_laughs(version: SoapVersion) -> bytes:
    entities = ['<!ENTITY lol0 "lol">'] + [
        f'<!ENTITY lol{n} "{f"&lol{n - 1};" * 10}">' for n in range(1, 10)
    ]
    doctype = f"<!DOCTYPE d [{''.join(entities)}]>"
    return _wrap(version, doctype, "<d:PingResponse><d:Status>&lol9;</d:Status></d:PingResponse>")


def oversized(version: SoapVersion) -> bytes:
    padding = "<d:Status>OK</d:Status>" * 200_000  # about 4.6 MB
    return _wrap(version, "", f"<d:PingResponse>{padding}</d:PingResponse>")


HOSTILE: dict[Mode, Callable[[SoapVersion], bytes]] = {
    Mode.XXE: xxe,
    Mode.BILLION_LAUGHS: billion_laughs,
    Mode.OVERSIZED: oversized,
}
