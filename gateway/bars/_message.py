"""A BaRS ``message`` Bundle read and checked against a MessageDefinition.

BaRS-FHIR-Usage/Bundle and the application payload pages: the Bundle is of type
``message``, ``meta.versionId`` names the application version it complies with,
the first entry is the MessageHeader, every resource carries ``meta.lastUpdated``
and the entries are only the resources the MessageDefinition lists, each within
its ``min``/``max``. A violation is 400 REC_BAD_REQUEST with the element's
``expression``; an application version we do not serve is 422 (the pseudo code of
Standard-Pattern-For-Composites).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from fhir.resources.R4B.bundle import Bundle
from pydantic import ValidationError

from gateway.bars.errors import Rec, RecError

Json = dict[str, Any]

EVENTS_SYSTEM = "https://fhir.nhs.uk/CodeSystem/message-events-bars"
REASON_SYSTEM = "https://fhir.nhs.uk/CodeSystem/message-reason-bars"
BUNDLE_PROFILE = "https://fhir.nhs.uk/StructureDefinition/BARSBundleMessage"
#: Application major versions whose messages this receiver reads (Bundle.meta.versionId).
SUPPORTED_MAJORS = frozenset({"1"})


@dataclass(frozen=True, slots=True)
class Focus:
    """One ``MessageDefinition.focus`` row: a resource type allowed, how many, its profile."""

    code: str
    profile: str
    min: int
    max: int | None  # None: "*"


@dataclass(frozen=True, slots=True)
class Definition:
    """A MessageDefinition we receive (message-definitions/*.xml)."""

    url: str
    name: str
    event: str
    version: str
    date: str
    use_cases: tuple[tuple[str, str], ...]  # (code, display) in usecases-categories-bars
    focus: tuple[Focus, ...]


def bad(expression: str, message: str, issue: str = "invariant") -> RecError:
    return RecError(Rec.BAD_REQUEST, issue, message, expression=expression)


@dataclass(frozen=True, slots=True)
class Message:
    """A checked message Bundle: its header, event, reason and entries by fullUrl."""

    bundle: Json
    header: Json
    event: str
    reason: str
    entries: dict[str, Json]

    def resources(self, kind: str) -> list[Json]:
        return [r for r in self.entries.values() if r.get("resourceType") == kind]

    def resolve(self, reference: Any, expression: str) -> Json:
        """The entry a reference names (by fullUrl, or by ``Type/id``); 400 if none."""
        ref = str((reference or {}).get("reference") or "") if isinstance(reference, dict) else ""
        if not ref:
            raise bad(expression, f"{expression} must reference an entry of the Bundle", "required")
        found = self.entries.get(ref)
        if found is None and "/" in ref and not ref.startswith("urn:"):
            kind, _, key = ref.rstrip("/").rpartition("/")
            kind = kind.rpartition("/")[2]
            found = next((r for r in self.resources(kind) if r.get("id") == key), None)
        if found is None:
            raise bad(expression, f"{expression} '{ref[:80]}' names no entry of the Bundle")
        return found

    @property
    def focus(self) -> Json:
        focus = self.header.get("focus") or []
        if len(focus) != 1:
            raise bad(
                "MessageHeader.focus",
                "MessageHeader.focus must reference the one focus resource of the message",
                "required",
            )
        return self.resolve(focus[0], "MessageHeader.focus")


def _structure(data: Json) -> None:
    if data.get("resourceType") != "Bundle":
        raise bad("Bundle", "$process-message takes a Bundle of type 'message'", "structure")
    try:
        Bundle.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        # FHIRPath: list positions as [i] (Bundle.entry[3].resource.subject).
        steps = (f"[{p}]" if isinstance(p, int) else f".{p}" for p in first["loc"])
        where = "Bundle" + "".join(steps)
        raise bad(
            where, f"{where}: {first['msg']} ({exc.error_count()} problem(s) in all)", "structure"
        ) from exc
    except (TypeError, ValueError, KeyError) as exc:
        # An entry of an unknown resource type reaches us as a KeyError naming the type.
        raise bad(
            "Bundle.entry.resource", f"Bundle: an entry is no R4 resource ({exc})", "structure"
        ) from exc
    if data.get("type") != "message":
        raise bad("Bundle.type", "Bundle.type must be 'message'", "value")


def _version(data: Json) -> None:
    version = str((data.get("meta") or {}).get("versionId") or "")
    if not version:
        raise bad(
            "Bundle.meta.versionId",
            "Bundle.meta.versionId must name the application version the message complies with",
            "required",
        )
    if version.partition(".")[0] not in SUPPORTED_MAJORS:
        raise RecError(
            Rec.UNPROCESSABLE_ENTITY,
            "not-supported",
            f"application version '{version[:20]}' is not served here (served: "
            + ", ".join(f"{m}.x" for m in sorted(SUPPORTED_MAJORS))
            + ")",
            expression="Bundle.meta.versionId",
        )


def _entries(data: Json) -> dict[str, Json]:
    out: dict[str, Json] = {}
    for i, entry in enumerate(data.get("entry") or []):
        resource = entry.get("resource")
        where = f"Bundle.entry[{i}]"
        if not isinstance(resource, dict):
            raise bad(f"{where}.resource", f"{where} carries no resource", "required")
        if not (resource.get("meta") or {}).get("lastUpdated"):
            # LastUpdatedDate: "All resources MUST include 'lastUpdated'".
            raise bad(
                f"{where}.resource.meta.lastUpdated",
                f"{resource.get('resourceType')} in {where} has no meta.lastUpdated",
                "required",
            )
        url = str(entry.get("fullUrl") or "")
        if not url:
            raise bad(f"{where}.fullUrl", f"{where}.fullUrl is required", "required")
        if url in out:
            raise bad(f"{where}.fullUrl", f"fullUrl '{url[:80]}' appears twice")
        out[url] = resource
    return out


def _coded(value: Any, system: str, expression: str) -> str:
    codings = value.get("coding") if isinstance(value, dict) and "coding" in value else [value]
    for coding in codings or []:
        if isinstance(coding, dict) and coding.get("system") == system and coding.get("code"):
            return str(coding["code"])
    raise bad(expression, f"{expression} must hold a code of {system}", "required")


def read_message(data: Json) -> Message:
    """Check the envelope of a ``$process-message`` body; 400/422 naming what is wrong."""
    _structure(data)
    _version(data)
    entries = _entries(data)
    first = ((data.get("entry") or [{}])[0] or {}).get("resource") or {}
    if first.get("resourceType") != "MessageHeader":
        raise bad(
            "Bundle.entry[0].resource",
            "the first entry of a message Bundle must be its MessageHeader",
            "required",
        )
    headers = [r for r in entries.values() if r.get("resourceType") == "MessageHeader"]
    if len(headers) != 1:
        raise bad(
            "Bundle.entry.resource.ofType(MessageHeader)",
            "a message Bundle has exactly one MessageHeader",
        )
    header = headers[0]
    event = _coded(header.get("eventCoding"), EVENTS_SYSTEM, "MessageHeader.eventCoding")
    reason = _coded(header.get("reason"), REASON_SYSTEM, "MessageHeader.reason")
    return Message(bundle=data, header=header, event=event, reason=reason, entries=entries)


def _bounds(definition: Definition) -> dict[str, tuple[int, int | None]]:
    """Each resource type's min..max, summed over its rows (a type may have one row per
    profile: the referral definition's incident and other Locations, its two Flags)."""
    out: dict[str, tuple[int, int | None]] = {}
    for row in definition.focus:
        low, high = out.get(row.code, (0, 0))
        out[row.code] = (
            low + row.min,
            None if high is None or row.max is None else high + row.max,
        )
    return out


def check_focus(bundle: Json, definition: Definition, *, maxima: bool = True) -> None:
    """The Bundle's entries are the resources ``definition`` allows, each within its
    min..max (only the minimum when ``maxima`` is false): else 400 naming the entry or
    the resource type."""
    bounds = _bounds(definition)
    counts: Counter[str] = Counter()
    for i, entry in enumerate(bundle.get("entry") or []):
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if not isinstance(resource, dict):
            continue
        kind = str(resource.get("resourceType"))[:40]
        if kind not in bounds:
            raise bad(
                f"Bundle.entry[{i}].resource", f"{kind} is not a resource of {definition.url}"
            )
        counts[kind] += 1
    for kind, (low, high) in bounds.items():
        if kind == "Bundle":
            continue
        seen = counts.get(kind, 0)
        over = maxima and high is not None and seen > high
        if seen < low or over:
            most = "*" if high is None else str(high)
            raise bad(
                f"Bundle.entry.resource.ofType({kind})",
                f"{definition.url} takes {low}..{most} {kind}, the Bundle has {seen}",
                "required" if seen < low else "invariant",
            )


def check_definition(message: Message, definition: Definition) -> None:
    """The entries are the resources ``definition`` allows, and the header names it."""
    check_focus(message.bundle, definition)
    named = message.header.get("definition")
    if named and named != definition.url:
        raise bad(
            "MessageHeader.definition",
            f"MessageHeader.definition '{str(named)[:100]}' is not {definition.url}",
        )


def _path(data: Any, path: str) -> Any:
    for key in path.split("."):
        data = data.get(key) if isinstance(data, dict) else None
        data = data[0] if isinstance(data, list) and data else data
    return data


#: Booking-Request-Payload: the elements marked MUST that the published examples carry.
_REQUIRED = (
    ("Bundle", "id"),
    ("Bundle", "timestamp"),
    ("MessageHeader", "destination.endpoint"),
    ("MessageHeader", "destination.receiver.reference"),
    ("MessageHeader", "sender.reference"),
    ("MessageHeader", "source.endpoint"),
)


def required_elements(message: Message) -> None:
    """The MUST elements of the envelope; the sender and receiver are Organization entries."""
    for kind, path in _REQUIRED:
        where = message.bundle if kind == "Bundle" else message.header
        if not _path(where, path):
            raise bad(f"{kind}.{path}", f"{kind}.{path} is required", "required")
    for path in ("destination.receiver", "sender"):
        found = message.resolve(_path(message.header, path), f"MessageHeader.{path}")
        if found.get("resourceType") != "Organization":
            raise bad(f"MessageHeader.{path}", f"MessageHeader.{path} must be an Organization")
