"""R4 resources on the wire: FHIR JSON (required by BaRS) and FHIR XML.

XML is written and read by ``fhir.resources.R4B`` itself (the STU3 door's fast
writer, gateway/fhir/_xml.py, knows STU3's element order only). Our own
renderings are R4-valid, so writing them cannot fail on structure; a large XML
Bundle is written on a worker thread so the event loop keeps answering. A
request body in XML is parsed with the same hardened lxml parser the STU3 door
uses (no DTDs, no entities, no network) before the R4B reader sees it.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from typing import Any

from fhir.resources.R4B import get_fhir_model_class
from lxml import etree
from pydantic import ValidationError

from gateway.bars.errors import Rec, RecError
from gateway.fhir import formats
from gateway.fhir.formats import WireFormat

Json = dict[str, Any]
FHIR_NS = "http://hl7.org/fhir"
#: Bundles with more entries than this are written as XML off the event loop.
OFF_LOOP_ENTRIES = formats.OFF_LOOP_ENTRIES
_XML_TYPES = frozenset({"application/fhir+xml", "application/xml", "text/xml"})
_JSON_TYPES = frozenset({"application/fhir+json", "application/json"})


def dump(resource: Mapping[str, Any], fmt: WireFormat) -> bytes:
    if fmt is WireFormat.JSON:
        return formats.dump(resource, fmt)
    model = get_fhir_model_class(str(resource["resourceType"]))
    text = model.model_validate(resource).model_dump_xml()
    return text if isinstance(text, bytes) else str(text).encode("utf-8")


async def dump_async(resource: Mapping[str, Any], fmt: WireFormat) -> bytes:
    if fmt is WireFormat.JSON or len(resource.get("entry", ())) <= OFF_LOOP_ENTRIES:
        return dump(resource, fmt)
    return await asyncio.to_thread(dump, resource, fmt)


def body_format(content_type: str | None) -> WireFormat:
    """The format of a request body from its Content-Type; 415 REC_BAD_REQUEST otherwise."""
    kind = (content_type or "").partition(";")[0].strip().lower()
    if kind in _JSON_TYPES:
        return WireFormat.JSON
    if kind in _XML_TYPES:
        return WireFormat.XML
    raise RecError(
        Rec.UNSUPPORTED_MEDIA_TYPE,
        "not-supported",
        f"Content-Type must be application/fhir+json or application/fhir+xml (got '{kind[:60]}')",
        expression="http.Content-Type",
    )


def _bad(issue: str, message: str) -> RecError:
    return RecError(Rec.BAD_REQUEST, issue, message)


def load(raw: bytes, fmt: WireFormat) -> Json:
    """A request body as a JSON-shaped dict; 400 REC_BAD_REQUEST if it is no resource."""
    if fmt is WireFormat.JSON:
        return formats.load(raw, fmt)
    try:
        root = etree.fromstring(raw, parser=formats.hardened_parser())
    except etree.XMLSyntaxError as exc:
        raise _bad("structure", f"body is not well-formed XML: {exc}") from exc
    docinfo: Any = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None:
        raise _bad("structure", "XML with a DOCTYPE is not accepted")
    tag = etree.QName(root)
    if tag.namespace != FHIR_NS:
        raise _bad("structure", f"the XML root must be a FHIR resource in {FHIR_NS}")
    try:
        model = get_fhir_model_class(tag.localname)
    except (KeyError, ValueError):
        raise _bad("structure", f"'{tag.localname[:40]}' is not an R4 resource type") from None
    try:
        parsed = model.model_validate_xml(raw, xmlparser=formats.hardened_parser())
    except (ValidationError, ValueError, KeyError, TypeError, AttributeError, IndexError) as exc:
        raise _bad("structure", f"the XML {tag.localname} is invalid: {str(exc)[:300]}") from exc
    data: Json = json.loads(parsed.model_dump_json(exclude_none=True))
    return data
