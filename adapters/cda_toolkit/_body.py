"""``component/structuredBody``: the narrative sections and the coded entries.

Sections with a meaning in the canonical model (reported condition -> ``reason_text``,
consultation summary -> ``clinical.summary``, Pathways assessment -> triage text, advice
given -> ``clinical.patient_instruction``) are read into it; every other section is kept
as a ``section`` attachment (title and text), and sections about safeguarding or special
notes also raise a ``Flag``. Entries: clinical discriminators are triage codes, the
appointment reference names the booking, observation media (the Pathways case, or what
``render`` wrote) are kept as attachments.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field

from lxml import etree

from adapters.domain import Coding, ReferralAttachment

from . import _codes as c
from ._xml import Collector, attr, child, children, instant, narrative, q, text_of

BODY = "/ClinicalDocument/component/structuredBody"
FHIR_JSON = "application/fhir+json"
#: The identifier prefix of the ServiceRequest fragment ``render`` writes (see rendering.py).
SERVICE_REQUEST = "servicerequest:"


@dataclass(slots=True)
class Body:
    """What the body says, gathered section by section."""

    texts: dict[str, list[str]] = field(default_factory=dict)
    codes: list[Coding] = field(default_factory=list)
    attachments: list[ReferralAttachment] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)
    appointment: str | None = None
    #: What ``render`` wrote of a referral that a 111 report has no element for.
    service_request: dict[str, object] | None = None

    def text(self, key: str) -> str | None:
        return "\n".join(self.texts.get(key, ())) or None


def _meaning(section: etree._Element, title: str | None) -> str | None:
    code = attr(child(section, "h:code"), "code")
    if code in c.SECTION_CODES:
        return c.SECTION_CODES[code]
    lowered = (title or "").lower()
    return next((key for words, key in c.SECTION_TITLES if words in lowered), None)


def _flag(identifier: str, title: str) -> ReferralAttachment:
    resource = {"resourceType": "Flag", "status": "active", "code": {"text": title}}
    return ReferralAttachment(
        kind="Flag",
        identifier=f"flag:{identifier}",
        content_type=FHIR_JSON,
        title=title,
        data=json.dumps(resource, separators=(",", ":")),
    )


def _section(section: etree._Element, index: int, body: Body) -> None:
    title = text_of(child(section, "h:title"))
    text = narrative(child(section, "h:text"))
    if title is None and text is None:
        return
    meaning = _meaning(section, title)
    if meaning is not None:
        if text:
            body.texts.setdefault(meaning, []).append(text)
        return
    identifier = attr(child(section, "h:id"), "root") or f"section-{index}"
    if any(a.identifier == identifier for a in body.attachments):
        identifier = f"{identifier}#{index}"  # some senders reuse one section id
    body.attachments.append(
        ReferralAttachment(
            kind="section",
            identifier=identifier,
            content_type="text/plain",
            title=title,
            data=text,
        )
    )
    if title and any(word in title.lower() for word in c.FLAG_WORDS):
        body.flags.append(title)
        body.attachments.append(_flag(identifier, title))


def _media(media: etree._Element, index: int) -> ReferralAttachment:
    value = child(media, "h:value")
    ident = child(media, "h:id")
    identifier = attr(ident, "extension") or attr(ident, "root") or f"media-{index}"
    content_type = attr(value, "mediaType")
    raw = "".join((value.text or "").split()) if value is not None else ""
    data: str | None = raw or None
    if raw and attr(value, "representation") == "B64":
        try:
            data = base64.b64decode(raw, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            data = raw
    kind = "ObservationMedia"
    if content_type == FHIR_JSON and data:
        try:
            found = json.loads(data)
        except ValueError:
            found = None
        if isinstance(found, dict) and isinstance(found.get("resourceType"), str):
            kind = found["resourceType"]
    return ReferralAttachment(
        kind=kind, identifier=identifier, content_type=content_type, data=data
    )


def _discriminator(observation: etree._Element) -> Coding | None:
    value = child(observation, "h:value")
    code = attr(value, "code")
    if code is None:
        return None
    return Coding(
        system=c.system_for(attr(value, "codeSystem")),
        code=code,
        display=attr(value, "displayName"),
    )


def _entry(entry: etree._Element, index: int, body: Body) -> None:
    media = child(entry, "h:observationMedia")
    if media is not None:
        found = _media(media, index)
        if found.kind == "ServiceRequest" and found.identifier.startswith(SERVICE_REQUEST):
            body.service_request = json.loads(found.data or "{}")  # a dict: kind says so
        else:
            body.attachments.append(found)
        return
    content = attr(child(entry, "n:contentId"), "extension") or ""
    observation = child(entry, "h:observation")
    if content.endswith("#ClinicalDiscriminator") and observation is not None:
        coding = _discriminator(observation)
        if coding is not None:
            body.codes.append(coding)
        return
    encounter = child(entry, "h:encounter")
    if content.endswith("#AppointmentReference") and encounter is not None:
        body.appointment = body.appointment or attr(child(encounter, "h:id"), "extension")


def body(document: etree._Element, seen: Collector) -> Body:
    """The structured body's content; a document without one is refused."""
    structured = child(document, "h:component/h:structuredBody")
    found = Body()
    if structured is None:
        seen.problem(BODY, "the document has no structured body")
        return found
    for index, section in enumerate(structured.iter(q("section"))):
        _section(section, index, found)
    for index, entry in enumerate(structured.iter(q("entry"))):
        _entry(entry, index, found)
    return found


def encounter_attachment(document: etree._Element) -> ReferralAttachment | None:
    """``encompassingEncounter``: its ids and period, as a FHIR Encounter attachment."""
    enc = child(document, "h:componentOf/h:encompassingEncounter")
    if enc is None:
        return None
    ids = [
        {"system": f"urn:oid:{attr(e, 'root')}", "value": attr(e, "extension")}
        for e in children(enc, "h:id")
        if attr(e, "root") and attr(e, "extension")
    ]
    period: dict[str, str] = {}
    for part, key in (("low", "start"), ("high", "end")):
        moment = instant(attr(child(enc, f"h:effectiveTime/h:{part}"), "value"))
        if moment is not None:
            period[key] = moment.isoformat()
    resource: dict[str, object] = {
        "resourceType": "Encounter",
        "status": "finished",
        "identifier": ids,
    }
    if period:
        resource["period"] = period
    first = str(ids[0]["value"]) if ids else "encounter"
    return ReferralAttachment(
        kind="Encounter",
        identifier=f"encounter:{first}",
        content_type=FHIR_JSON,
        data=json.dumps(resource, separators=(",", ":")),
    )
