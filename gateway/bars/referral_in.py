"""A BaRS ``servicerequest-request`` message Bundle -> the canonical ``Referral``.

BaRS-APP1/Referral-Payload: the MessageHeader's focus is the ServiceRequest, whose
``subject`` is the Patient and whose ``basedOn`` is the CarePlan holding the triage
outcome (``activity.outcomeCodeableConcept``: Pathways SD/DX/SG codes and the
assessment text). Every other resource of the message (Encounter, CarePlan,
QuestionnaireResponse, Observations, Flags, Consent, Organizations...) is kept
unchanged as an opaque attachment, so nothing the sender said is lost.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fhir.resources.R4B.bundle import Bundle
from pydantic import ValidationError

from adapters.domain import (
    ClinicalContent,
    Coding,
    Identifier,
    Patient,
    Referral,
    ReferralAttachment,
    ReferralRequester,
    ReferralStatus,
    TriageOutcome,
)
from gateway.bars.appointment import _stu3_shaped
from gateway.bars.errors import Rec, RecError
from gateway.errors import ApiError
from gateway.fhir._patient import patient as stu3_patient
from gateway.referrals import referral_key

Json = dict[str, Any]
EVENTS = "https://fhir.nhs.uk/CodeSystem/message-events-bars"
REASONS = "https://fhir.nhs.uk/CodeSystem/message-reason-bars"
USE_CASES = "https://fhir.nhs.uk/CodeSystem/usecases-categories-bars"
DX_CODES = "https://fhir.nhs.uk/CodeSystem/pathways-dx-codes"
#: BARS-message-reason: new, update, delete (the sender's cancel).
MESSAGE_REASONS = frozenset({"new", "update", "delete"})
#: Resources the referral holds in its own fields rather than as attachments.
_MAPPED = frozenset({"MessageHeader", "ServiceRequest", "Patient"})


def invalid(expression: str, message: str, issue: str = "invariant") -> RecError:
    return RecError(Rec.BAD_REQUEST, issue, message, expression=expression)


@dataclass(frozen=True, slots=True)
class Message:
    """A checked message Bundle: its header, resources by fullUrl, and the focus."""

    bundle: Json
    header: Json
    resources: dict[str, Json]
    focus_url: str
    focus: Json

    @property
    def event(self) -> str:
        return str((self.header.get("eventCoding") or {}).get("code") or "")

    @property
    def reason(self) -> str:
        codings = (self.header.get("reason") or {}).get("coding") or []
        found = [c.get("code") for c in codings if c.get("system") == REASONS]
        return str(found[0]) if found else "new"

    def resolve(self, ref: Json | None) -> Json | None:
        """The resource a reference names inside the message (by fullUrl or type/id)."""
        target = str((ref or {}).get("reference") or "")
        if target in self.resources:
            return self.resources[target]
        for url, res in self.resources.items():
            if f"{res.get('resourceType')}/{res.get('id')}" == target or url.endswith("/" + target):
                return res
        return None


def _structural(data: Json) -> None:
    if data.get("resourceType") != "Bundle" or data.get("type") != "message":
        raise invalid(
            "Bundle.type", "$process-message takes a Bundle of type 'message'", "structure"
        )
    try:
        Bundle.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = "Bundle" + "".join(
            f"[{p}]" if isinstance(p, int) else f".{p}" for p in first["loc"]
        )
        raise invalid(where, f"{where}: {first['msg']}", "structure") from exc
    except (TypeError, ValueError, KeyError) as exc:
        raise invalid("Bundle", f"Bundle: {exc}", "structure") from exc


def _url(entry: Json) -> str:
    res = entry["resource"]
    return str(entry.get("fullUrl") or f"{res.get('resourceType')}/{res.get('id')}")


def message(data: Json) -> Message:
    """Check the message's shape (process-message.page.md: the MessageHeader first)."""
    _structural(data)
    entries = [e for e in data.get("entry") or [] if isinstance(e, dict)]
    first = (entries[0].get("resource") or {}) if entries else {}
    if first.get("resourceType") != "MessageHeader":
        raise invalid("Bundle.entry[0]", "the first entry must be the MessageHeader", "required")
    resources = {_url(e): e["resource"] for e in entries if isinstance(e.get("resource"), dict)}
    focus_refs = first.get("focus") or []
    focus_url = str((focus_refs[0] or {}).get("reference") or "") if focus_refs else ""
    msg = Message(data, first, resources, focus_url, {})
    focus = msg.resolve(focus_refs[0] if focus_refs else None)
    if focus is None:
        raise invalid("MessageHeader.focus", "MessageHeader.focus names no entry", "required")
    return Message(data, first, resources, focus_url, focus)


def _codings(concepts: list[Json]) -> tuple[Coding, ...]:
    out = []
    for concept in concepts:
        for c in (concept or {}).get("coding") or []:
            if c.get("system") and c.get("code"):
                out.append(Coding(system=c["system"], code=c["code"], display=c.get("display")))
    return tuple(out)


def _triage(msg: Message, request: Json) -> TriageOutcome | None:
    """The CarePlan's outcomes (REFREQ01): the DX code is the disposition."""
    plans = [msg.resolve(r) for r in request.get("basedOn") or []]
    for plan in (p for p in plans if p and p.get("resourceType") == "CarePlan"):
        concepts = [
            c for act in plan.get("activity") or [] for c in act.get("outcomeCodeableConcept") or []
        ]
        codes = _codings(concepts)
        if not codes:
            continue
        dx = [c for c in codes if c.system == DX_CODES]
        disposition = dx[0] if dx else codes[0]
        texts = [c["text"] for c in concepts if c.get("text") and not c.get("coding")]
        return TriageOutcome(
            disposition=disposition,
            codes=tuple(c for c in codes if c != disposition),
            text="\n".join(texts) or None,
        )
    return None


def _attachments(msg: Message) -> tuple[ReferralAttachment, ...]:
    return tuple(
        ReferralAttachment(
            kind=str(res.get("resourceType")),
            identifier=url,
            content_type="application/fhir+json",
            data=json.dumps(res, separators=(",", ":")),
        )
        for url, res in msg.resources.items()
        if res.get("resourceType") not in _MAPPED
    )


def _patient(msg: Message, request: Json) -> Patient:
    found = msg.resolve(request.get("subject"))
    if found is None or found.get("resourceType") != "Patient":
        raise invalid(
            "ServiceRequest.subject",
            "ServiceRequest.subject must name the Patient entry",
            "required",
        )
    try:
        return stu3_patient(_stu3_shaped(found))
    except ApiError as exc:
        where = (exc.expression or "Patient").replace("Appointment.contained.", "")
        raise invalid(where, exc.diagnostics, "value") from exc


def _status(request: Json) -> ReferralStatus:
    raw = request.get("status")
    try:
        return ReferralStatus(str(raw))
    except ValueError:
        raise invalid(
            "ServiceRequest.status",
            f"ServiceRequest.status '{str(raw)[:20]}' is not served",
            "value",
        ) from None


def _instant(value: Any) -> datetime | None:
    if not isinstance(value, str) or len(value) < 19:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def authored(msg: Message, now: datetime) -> datetime:
    """authoredOn, else the message's timestamp, else now (docs/spec-choices.md)."""
    return _instant(msg.focus.get("authoredOn")) or _instant(msg.bundle.get("timestamp")) or now


def appointment_named(request: Json) -> str | None:
    """REFREQ01: ``supportingInfo`` -> ``Appointment/<id>`` is the booking linked to it."""
    for ref in request.get("supportingInfo") or []:
        target = str((ref or {}).get("reference") or "")
        if target.startswith("Appointment/") or "/Appointment/" in target:
            return referral_key(target)
    return None


def _sender_identifier(msg: Message) -> Identifier:
    for ident in msg.focus.get("identifier") or []:
        if ident.get("system") and ident.get("value"):
            return Identifier(system=ident["system"], value=ident["value"])
    return Identifier(system="urn:ietf:rfc:3986", value=msg.focus_url)


def referral(
    msg: Message, *, service_id: str, requester: ReferralRequester, now: datetime
) -> Referral:
    """The canonical referral a checked message carries (id and version are assigned later)."""
    request = msg.focus
    if request.get("resourceType") != "ServiceRequest":
        raise invalid(
            "MessageHeader.focus",
            "the focus of servicerequest-request is a ServiceRequest",
            "required",
        )
    category = [c for c in _codings(request.get("category") or []) if c.system == USE_CASES]
    reason_text = [c.get("text") for c in request.get("reasonCode") or [] if c.get("text")]
    notes = [n.get("text") for n in request.get("note") or [] if n.get("text")]
    return Referral(
        id="new",
        version=1,
        status=_status(request),
        patient=_patient(msg, request),
        service_id=service_id,
        reason=_codings(request.get("reasonCode") or []),
        reason_text="\n".join(reason_text) or None,
        triage=_triage(msg, request),
        clinical=ClinicalContent(
            summary="\n".join(notes) or None,
            patient_instruction=request.get("patientInstruction"),
            attachments=_attachments(msg),
        ),
        requester=requester,
        sender_identifier=_sender_identifier(msg),
        category=category[0] if category else None,
        authored=authored(msg, now),
    )
