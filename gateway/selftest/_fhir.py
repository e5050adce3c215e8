"""Reading the target's FHIR answers: Bundles, instants, OperationOutcomes, XML roots."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from lxml import etree

from gateway.selftest._http import Reply
from gateway.selftest._run import expect

FHIR_NS = "http://hl7.org/fhir"
SPINE_CODES = "https://fhir.nhs.uk/STU3/ValueSet/Spine-ErrorOrWarningCode-1"
NHS_NUMBER_SYSTEM = "https://fhir.nhs.uk/Id/nhs-number"
#: A syntactically valid NHS number whose check digit is wrong (fs_fhir_overrides.md test).
INVALID_NHS_NUMBER = "9434765918"


def instant(moment: datetime) -> str:
    """search_slots.md's format: ``yyyy-mm-ddThh:mm:ss+hh:mm`` (UTC)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00")


def parse_instant(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def resources(bundle: dict[str, Any], kind: str | None = None) -> list[dict[str, Any]]:
    """The resources of a Bundle's entries (of one type when ``kind`` is given)."""
    found = []
    for entry in bundle.get("entry") or []:
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if isinstance(resource, dict) and (kind is None or resource.get("resourceType") == kind):
            found.append(resource)
    return found


def keys(bundle: dict[str, Any], kind: str | None = None) -> set[str]:
    """``Type/id`` of every resource in the Bundle."""
    return {f"{r.get('resourceType')}/{r.get('id')}" for r in resources(bundle, kind)}


def slot_ids(bundle: dict[str, Any]) -> set[str]:
    return {str(r.get("id")) for r in resources(bundle, "Slot")}


def starts(slots: list[dict[str, Any]]) -> list[datetime]:
    return [parse_instant(s["start"]) for s in slots]


def reference(value: Any) -> str | None:
    """The ``Type/id`` tail of a Reference, or None."""
    ref = value.get("reference") if isinstance(value, dict) else None
    if not isinstance(ref, str) or "/" not in ref:
        return None
    return "/".join(ref.rstrip("/").split("/")[-2:])


def searchset(reply: Reply, what: str) -> dict[str, Any]:
    """The Bundle of a successful search (search_slots.md: 200 and a Bundle)."""
    bundle = reply.resource()
    expect(
        reply.status == 200 and bundle.get("resourceType") == "Bundle",
        f"{what}: expected 200 and a searchset Bundle, saw {reply.seen()}",
    )
    expect(bundle.get("type") == "searchset", f"{what}: Bundle.type is {bundle.get('type')!r}")
    return bundle


def outcome_problem(reply: Reply) -> str | None:
    """What is missing from an error body (er_errorhandling.md's minimum), or None."""
    outcome = reply.resource()
    if outcome.get("resourceType") != "OperationOutcome":
        return (
            f"body is {reply.resource_type or reply.content_type or 'empty'}, not OperationOutcome"
        )
    if not outcome.get("id"):
        return "OperationOutcome has no id"
    issues = outcome.get("issue")
    if not isinstance(issues, list) or not issues:
        return "OperationOutcome has no issue"
    for issue in issues:
        if not isinstance(issue, dict) or not issue.get("severity") or not issue.get("code"):
            return "an issue lacks severity or code"
    return None


def spine_codes(reply: Reply) -> list[str]:
    """The Spine-ErrorOrWarningCode codes of an OperationOutcome's issues."""
    found = []
    for issue in reply.resource().get("issue") or []:
        for coding in ((issue or {}).get("details") or {}).get("coding") or []:
            if isinstance(coding, dict) and coding.get("system") == SPINE_CODES:
                found.append(str(coding.get("code")))
    return found


def first_issue_parts(reply: Reply) -> tuple[str, str]:
    """(issue code, diagnostics) of an OperationOutcome's first issue ('' when absent)."""
    issues = reply.resource().get("issue") or [{}]
    first = issues[0] if isinstance(issues, list) and isinstance(issues[0], dict) else {}
    return str(first.get("code") or ""), str(first.get("diagnostics") or "")


def expect_refusal(reply: Reply, statuses: tuple[int, ...], what: str) -> None:
    """The reply has one of ``statuses`` and an OperationOutcome body."""
    wanted = " or ".join(str(s) for s in statuses)
    expect(reply.status in statuses, f"{what}: expected {wanted}, saw {reply.seen()}")
    problem = outcome_problem(reply)
    expect(problem is None, f"{what}: {reply.status} but {problem}")


def xml_root(body: bytes) -> str | None:
    """``{namespace}Name`` of an XML document's root, or None if it is not XML.

    The parser never resolves entities or fetches anything: the body is the target's.
    """
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    try:
        root = etree.fromstring(body, parser)
    except etree.XMLSyntaxError:
        return None
    return str(root.tag)


def fhir_xml(name: str) -> str:
    return f"{{{FHIR_NS}}}{name}"
