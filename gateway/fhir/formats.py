"""Wire formats: content negotiation, JSON and XML in and out (implementation_api.md).

- JSON is required and the default; XML is supported.
- ``_format`` beats ``Accept``; with neither, a request's ``Content-Type`` decides.
- A format we cannot produce or read is 415; charset must be UTF-8.
- XML from outside is parsed with entities, DTDs and network access all off.
"""

from __future__ import annotations

import asyncio
import enum
import json
import re
import sys
from collections.abc import Mapping
from typing import Any

import orjson
import structlog
from lxml import etree
from pydantic import ValidationError

from gateway.errors import ApiError, ErrorKind
from gateway.fhir._xml import resource_model, to_xml, unknown_element

log = structlog.get_logger("gateway.fhir")
_SURROGATE = re.compile("[\ud800-\udfff]")
#: XML of a Bundle with more entries than this is written on a worker thread, so the
#: event loop keeps answering other requests (issue 9 row 8); smaller ones inline.
OFF_LOOP_ENTRIES = 50


class WireFormat(enum.Enum):
    JSON = "application/fhir+json"
    XML = "application/fhir+xml"

    @property
    def content_type(self) -> str:
        # implementation_api.md: charset explicit, no space after ';'.
        return f"{self.value};charset=utf-8"


_ALIASES: dict[str, WireFormat] = {
    "json": WireFormat.JSON,
    "application/json": WireFormat.JSON,
    "application/fhir+json": WireFormat.JSON,
    "application/json+fhir": WireFormat.JSON,
    "xml": WireFormat.XML,
    "text/xml": WireFormat.XML,
    "application/xml": WireFormat.XML,
    "application/fhir+xml": WireFormat.XML,
    "application/xml+fhir": WireFormat.XML,
}
_WILDCARDS = {"*/*", "application/*"}


def _media_type(value: str) -> tuple[str, dict[str, str]]:
    kind, _, rest = value.partition(";")
    params: dict[str, str] = {}
    for part in rest.split(";"):
        key, sep, val = part.strip().partition("=")
        if sep:
            params[key.strip().lower()] = val.strip().strip('"').lower()
    return kind.strip().lower(), params


def _from_accept(accept: str) -> WireFormat | None:
    """The preferred format in an Accept header; None if it allows nothing we make."""
    choices: list[tuple[float, int, WireFormat]] = []
    for index, item in enumerate(accept.split(",")):
        kind, params = _media_type(item)
        try:
            quality = float(params.get("q", "1"))
        except ValueError:
            quality = 0.0
        fmt = _ALIASES.get(kind) or (WireFormat.JSON if kind in _WILDCARDS else None)
        if fmt is not None and quality > 0:
            choices.append((-quality, index, fmt))
    return min(choices)[2] if choices else None


def _only_wildcards(accept: str) -> bool:
    # "Accept: */*" states no preference: the request's Content-Type then decides.
    return all(_media_type(item)[0] in _WILDCARDS for item in accept.split(","))


def response_format(query: Mapping[str, str], headers: Mapping[str, str]) -> WireFormat:
    """Pick the response format, or raise 415 for one we cannot produce."""
    requested = query.get("_format")
    if requested is not None:
        fmt = _ALIASES.get(_media_type(requested)[0])
        if fmt is None:
            raise ApiError(
                ErrorKind.UNSUPPORTED_MEDIA_TYPE,
                f"_format '{requested}' is not supported; use json or xml",
                expression="_format",
            )
        return fmt
    accept = headers.get("Accept", "").strip()
    if accept and not _only_wildcards(accept):
        fmt = _from_accept(accept)
        if fmt is None:
            raise ApiError(
                ErrorKind.UNSUPPORTED_MEDIA_TYPE,
                f"Accept '{accept}' allows no supported format "
                f"({WireFormat.JSON.value}, {WireFormat.XML.value})",
            )
        return fmt
    content_type = headers.get("Content-Type")
    if content_type:
        fmt = _ALIASES.get(_media_type(content_type)[0])
        if fmt is not None:
            return fmt
    return WireFormat.JSON


def request_format(content_type: str | None) -> WireFormat:
    """The format of a request body from its Content-Type, or 415."""
    if not content_type:
        raise ApiError(
            ErrorKind.UNSUPPORTED_MEDIA_TYPE, "Content-Type is required for a request body"
        )
    kind, params = _media_type(content_type)
    fmt = _ALIASES.get(kind)
    if fmt is None:
        raise ApiError(
            ErrorKind.UNSUPPORTED_MEDIA_TYPE,
            f"Content-Type '{kind}' is not supported; "
            f"send {WireFormat.JSON.value} or {WireFormat.XML.value}",
        )
    charset = params.get("charset", "utf-8")
    if charset not in ("utf-8", "utf8"):
        raise ApiError(
            ErrorKind.UNSUPPORTED_MEDIA_TYPE,
            f"charset '{charset}' is not supported; FHIR bodies are UTF-8",
        )
    return fmt


def _scrubbed(value: Any) -> Any:
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value)
    if isinstance(value, Mapping):
        return {_scrubbed(k): _scrubbed(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_scrubbed(v) for v in value]
    return value


def dump(resource: Mapping[str, Any], fmt: WireFormat) -> bytes:
    """``resource`` on the wire; text UTF-8 or XML cannot hold becomes U+FFFD.

    A lone surrogate (JSON's ``"\\ud800"``, echoed in an error) is not UTF-8, and
    XML 1.0 forbids most control characters; neither may cost the consumer its answer.
    """
    if fmt is WireFormat.XML:
        return to_xml(resource)
    try:
        return orjson.dumps(resource)
    except TypeError:
        # orjson refuses lone surrogates and integers beyond 64 bits; the stdlib writes both.
        text = json.dumps(_scrubbed(resource), ensure_ascii=False, separators=(",", ":"))
        return text.encode("utf-8")


async def dump_off_loop(resource: Mapping[str, Any], fmt: WireFormat) -> bytes:
    """``dump``, on a worker thread when the body is a large XML Bundle."""
    if fmt is WireFormat.JSON or len(resource.get("entry", ())) <= OFF_LOOP_ENTRIES:
        return dump(resource, fmt)
    return await asyncio.get_running_loop().run_in_executor(None, dump, resource, fmt)


def _minimal_outcome(outcome_id: Any) -> bytes:
    safe_id = (
        outcome_id
        if isinstance(outcome_id, str) and re.fullmatch(r"[\w.-]{1,64}", outcome_id)
        else None
    )
    issue = {
        "severity": "error",
        "code": "exception",
        "diagnostics": "the error could not be written out; quote this outcome's id to support",
    }
    outcome: dict[str, Any] = {"resourceType": "OperationOutcome", "issue": [issue]}
    if safe_id:
        outcome["id"] = safe_id
    return orjson.dumps(outcome)


def dump_outcome(outcome: Mapping[str, Any], fmt: WireFormat) -> tuple[bytes, WireFormat]:
    """An OperationOutcome's bytes, never an exception: in ``fmt``, else JSON, else minimal.

    er_errorhandling.md: every error is an OperationOutcome; one that cannot be
    written as asked is still answered (and logged), never a bare 500.
    """
    for choice in dict.fromkeys((fmt, WireFormat.JSON)):
        try:
            return dump(outcome, choice), choice
        except Exception as exc:  # an error must still be answered
            log.error("outcome_render_failed", format=choice.name, error=type(exc).__name__)
    return _minimal_outcome(outcome.get("id")), WireFormat.JSON


def hardened_parser() -> etree.XMLParser:
    """The XML reader of every door: no entities, DTDs or network, no huge trees."""
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
    )


def _xml_to_json(body: bytes) -> dict[str, Any]:
    try:
        root = etree.fromstring(body, parser=hardened_parser())
    except etree.XMLSyntaxError as exc:
        raise ApiError(ErrorKind.BAD_REQUEST, f"body is not well-formed XML: {exc}") from exc
    docinfo: Any = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None:
        raise ApiError(ErrorKind.BAD_REQUEST, "XML with a DOCTYPE is not accepted")
    tag = etree.QName(root)
    if tag.namespace != "http://hl7.org/fhir":
        raise ApiError(
            ErrorKind.BAD_REQUEST,
            "XML root must be a FHIR resource in the http://hl7.org/fhir namespace",
        )
    model_class = resource_model(tag.localname)
    if model_class is None:
        raise ApiError(ErrorKind.INVALID_RESOURCE, f"unknown resource type '{tag.localname}'")
    unknown = unknown_element(root, model_class)
    if unknown is not None:
        # xml.html: an element the definition lacks makes the instance invalid.
        raise ApiError(
            ErrorKind.INVALID_RESOURCE,
            f"XML element '{unknown}' is not defined in STU3 {tag.localname}",
            expression=unknown,
        )
    try:
        model = model_class.model_validate_xml(body, xmlparser=hardened_parser())
    except (ValidationError, ValueError) as exc:
        raise ApiError(ErrorKind.INVALID_RESOURCE, f"XML resource is invalid: {exc}") from exc
    except (KeyError, TypeError, AttributeError, IndexError) as exc:
        # The XML reader's own faults on shapes the walk above admits: still the body's.
        raise ApiError(ErrorKind.INVALID_RESOURCE, f"XML resource is invalid near {exc!s}") from exc
    data: dict[str, Any] = json.loads(model.model_dump_json(exclude_none=True))
    return data


def _no_constant(name: str) -> Any:
    # RFC 8259: NaN and Infinity are not JSON; Python's reader would accept them.
    raise _NotJson(f"'{name}' is not a JSON value")


class _NotJson(ValueError):
    pass


def load(body: bytes, fmt: WireFormat) -> dict[str, Any]:
    """Parse a request body into a JSON-shaped dict; 400 if it is not a resource at all."""
    if not body.strip():
        raise ApiError(ErrorKind.BAD_REQUEST, "request body is empty")
    if fmt is WireFormat.XML:
        return _xml_to_json(body)
    try:
        data = json.loads(body.decode("utf-8"), parse_constant=_no_constant)
    except UnicodeDecodeError as exc:
        raise ApiError(ErrorKind.BAD_REQUEST, "request body is not UTF-8") from exc
    except RecursionError as exc:
        raise ApiError(ErrorKind.BAD_REQUEST, "body is nested too deeply") from exc
    except json.JSONDecodeError as exc:
        raise ApiError(
            ErrorKind.BAD_REQUEST,
            f"body is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}",
        ) from exc
    except _NotJson as exc:
        raise ApiError(ErrorKind.BAD_REQUEST, f"body is not valid JSON: {exc}") from exc
    except ValueError as exc:
        # Python refuses to read integers longer than sys.get_int_max_str_digits().
        limit = sys.get_int_max_str_digits()
        raise ApiError(
            ErrorKind.BAD_REQUEST, f"body holds a number of more than {limit} digits"
        ) from exc
    if not isinstance(data, dict):
        raise ApiError(ErrorKind.BAD_REQUEST, "body must be a JSON object (a FHIR resource)")
    return data
