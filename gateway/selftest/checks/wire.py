"""Wire rules of implementation_api.md and capabilitystatement.md: formats, gzip, ids."""

from __future__ import annotations

import uuid

from gateway.security.interactions import Interaction
from gateway.selftest._fhir import expect_refusal, fhir_xml, xml_root
from gateway.selftest._http import FHIR_JSON, FHIR_XML, Reply
from gateway.selftest._run import Check, Run, check, expect

CHECKS: list[Check] = []
API = "implementation_api.md"
META = Interaction.METADATA


def _xml_declared(run: Run) -> bool:
    return any("xml" in f for f in run.state.formats)


def _is_json(reply: Reply, kind: str) -> bool:
    return reply.status == 200 and FHIR_JSON in reply.content_type and reply.resource_type == kind


def _is_xml(reply: Reply, kind: str) -> bool:
    return (
        reply.status == 200
        and FHIR_XML in reply.content_type
        and xml_root(reply.body) == fhir_xml(kind)
    )


@check(CHECKS, "metadata-capability-statement", "capabilitystatement.md, implementation_api.md")
async def metadata(run: Run) -> None:
    """GET /metadata: a CapabilityStatement declaring its formats and acceptUnknown both."""
    reply = await run.consumer.send(META, "/metadata")
    statement = reply.resource()
    expect(
        reply.status == 200 and reply.resource_type == "CapabilityStatement",
        f"expected 200 CapabilityStatement, saw {reply.seen()}",
    )
    formats = statement.get("format")
    expect(isinstance(formats, list) and formats, "CapabilityStatement.format is missing")
    run.state.formats = [str(f).lower() for f in formats or []]
    expect(
        any("json" in f for f in run.state.formats),
        f"JSON is a SHALL but format lists {formats}",
    )
    # implementation_api.md: "declare this by setting acceptUnknown to 'both'".
    expect(
        statement.get("acceptUnknown") == "both",
        f"expected acceptUnknown 'both', saw {statement.get('acceptUnknown')!r}",
    )


@check(CHECKS, "format-json-by-default", API)
async def json_by_default(run: Run) -> None:
    """No Accept, no _format, no body: the server SHALL default to JSON."""
    reply = await run.consumer.send(META, "/metadata")
    expect(
        _is_json(reply, "CapabilityStatement"),
        f"expected {FHIR_JSON}, saw {reply.status} {reply.content_type!r}",
    )


@check(CHECKS, "format-accept-xml", API)
async def accept_xml(run: Run) -> None:
    """Accept: application/fhir+xml gives XML when XML is declared, else 415."""
    reply = await run.consumer.send(META, "/metadata", headers={"Accept": FHIR_XML})
    if _xml_declared(run):
        expect(
            _is_xml(reply, "CapabilityStatement"),
            f"XML is declared; expected {FHIR_XML} CapabilityStatement, "
            f"saw {reply.status} {reply.content_type!r}",
        )
    else:
        expect_refusal(reply, (415,), "XML is not declared")


@check(CHECKS, "format-param-overrides-accept", API)
async def format_beats_accept(run: Run) -> None:
    """_format wins over Accept in both directions (search_slots.md's json/xml values)."""
    reply = await run.consumer.send(
        META, "/metadata", params="_format=json", headers={"Accept": FHIR_XML}
    )
    expect(
        _is_json(reply, "CapabilityStatement"),
        f"_format=json with Accept XML: expected JSON, saw {reply.status} {reply.content_type!r}",
    )
    if _xml_declared(run):
        reply = await run.consumer.send(
            META, "/metadata", params="_format=xml", headers={"Accept": FHIR_JSON}
        )
        expect(
            _is_xml(reply, "CapabilityStatement"),
            f"_format=xml with Accept JSON: expected XML, saw {reply.status} "
            f"{reply.content_type!r}",
        )


@check(CHECKS, "format-unsupported-415", API)
async def unsupported_format(run: Run) -> None:
    """A format the server does not support: 415 for _format and for a request body."""
    reply = await run.consumer.send(META, "/metadata", params="_format=text/csv")
    expect_refusal(reply, (415,), "_format=text/csv")
    # An Accept the server cannot meet is also "a request for a format it does not
    # support" (415); HTTP's own answer to Accept is 406, which is taken too.
    reply = await run.consumer.send(META, "/metadata", headers={"Accept": "text/csv"})
    expect_refusal(reply, (415, 406), "Accept: text/csv")
    reply = await run.consumer.send(
        Interaction.BOOK,
        "/Appointment",
        body=b"resourceType,status\nAppointment,booked\n",
        headers={"Content-Type": "text/csv"},
    )
    expect_refusal(reply, (415,), "POST with Content-Type text/csv")


@check(CHECKS, "format-content-type-decides", API)
async def content_type_decides(run: Run) -> None:
    """No Accept and no _format: the answer comes in the request's Content-Type format."""
    if _xml_declared(run):
        body = b'<Appointment xmlns="http://hl7.org/fhir"><status value="booked"/></Appointment>'
        reply = await run.consumer.send(
            Interaction.BOOK, "/Appointment", body=body, headers={"Content-Type": FHIR_XML}
        )
        run.booked(reply, "format-content-type-decides")
        expect(
            400 <= reply.status < 500 and xml_root(reply.body) == fhir_xml("OperationOutcome"),
            f"an XML request: expected a 4xx OperationOutcome in XML, saw {reply.status} "
            f"{reply.content_type!r}",
        )
    else:
        reply = await run.consumer.send(Interaction.BOOK, "/Appointment", body=b"{}")
        expect(
            reply.is_json and reply.resource_type == "OperationOutcome",
            f"a JSON request: expected a JSON OperationOutcome, saw {reply.seen()}",
        )


@check(CHECKS, "gzip-response", API)
async def gzip_response(run: Run) -> None:
    """Accept-Encoding: gzip gives a gzip body (servers SHALL support GZIP compression)."""
    reply = await run.consumer.send(
        Interaction.SLOT_SEARCH,
        "/Slot",
        params=f"service={run.options.service}&_include=Slot:schedule",
        headers={"Accept-Encoding": "gzip"},
    )
    encoding = reply.headers.get("Content-Encoding")
    expect(encoding == "gzip", f"expected Content-Encoding gzip, saw {encoding!r}")
    expect(reply.resource_type == "Bundle", f"the gzip body does not decode: {reply.seen()}")


@check(CHECKS, "xti-correlation-id", "fs_xti.md")
async def correlation_id(run: Run) -> None:
    """The request's X-Request-ID comes back as X-Correlation-ID, beside the server's own."""
    sent = f"selftest-{uuid.uuid4()}"
    reply = await run.consumer.send(META, "/metadata", headers={"X-Request-ID": sent})
    echoed = reply.headers.get("X-Correlation-ID")
    expect(echoed == sent, f"expected X-Correlation-ID {sent!r}, saw {echoed!r}")
    expect(reply.headers.get("X-Request-ID"), "the response has no X-Request-ID of its own")
