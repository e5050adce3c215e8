"""Provider and SSP answers -> typed adapter errors, by one table.

er_overview.md lists what the SSP (403, 405, 415, 502, 504) and providers
(400, 403, 404, 409, 412, 422, 500) answer; the booking pages say which status
means what per interaction. The provider's OperationOutcome is kept for the log
as its issue codes only (``supplier_detail``): diagnostics are free text and may
quote patient data, so they are never kept (one rule reads them, below, and
keeps nothing of them).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

from adapters import errors
from adapters.national_fhir._wire import Interaction, Reply


class AccessRefused(errors.SupplierRefused):
    """The SSP or provider refused this consumer (403): retrying will not help."""


class ProviderIncompatible(errors.SupplierRefused):
    """The provider cannot take what we send (400 on a read, 404 on a create, 406, 412,
    415, a 412 on every round of a cancel): not transient."""


class ConflictPersisted(errors.SupplierUnavailable):
    """The booking kept changing under a cancel (409 every round); try again later."""


S = Interaction.SEARCH_SLOTS
B = Interaction.BOOK
R = Interaction.READ
C = Interaction.CANCEL
M = Interaction.METADATA
ANY = frozenset(Interaction)

#: Codes (OperationOutcome issue codes and Spine-ErrorOrWarningCodes) that name a taken slot.
SLOT_TAKEN = frozenset({"SLOT_NOT_FREE", "conflict"})
#: ... and ones that say "this X-Request-ID was used before" (fs_xti.md).
DUPLICATE = frozenset({"DUPLICATE_REJECTED", "duplicate"})
#: ... and ones that say the referenced Slot does not exist.
NO_SUCH_SLOT = frozenset({"REFERENCE_NOT_FOUND", "not-found", "NO_RECORD_FOUND"})

#: Issue codes under which a provider may say "slot taken" in words only.
_SAID_IN_WORDS = frozenset({"processing", "business-rule"})
#: ... and the words: "Slot no longer available", "slot is not free", "slot already booked".
_TAKEN_WORDS = re.compile(
    r"\bslot\b[^.;]*\b(?:no longer|not|already)\b[^.;]*\b(?:free|available|booked|taken)\b",
    re.IGNORECASE,
)


def slot_taken(body: Any) -> bool:
    """Whether an OperationOutcome says the slot is no longer free.

    book_an_appointment.md: a slot that is no longer free is a business-rule 422,
    "accompanied by an OperationOutcome providing additional detail". Providers
    say it with a code (SLOT_NOT_FREE in details, or issue code conflict) or only
    with issue code ``processing`` and diagnostics such as "Slot no longer
    available"; the diagnostics are matched here, never kept.
    """
    found = codes(body)
    if SLOT_TAKEN & found:
        return True
    return bool(_SAID_IN_WORDS & found) and any(_TAKEN_WORDS.search(d) for d in _diagnostics(body))


def _diagnostics(body: Any) -> Iterable[str]:
    issues = _dicts(body.get("issue")) if isinstance(body, dict) else ()
    return (i["diagnostics"][:500] for i in issues if isinstance(i.get("diagnostics"), str))


#: A rule's condition on the body: codes of which one must be present, or a test.
Needed = frozenset[str] | Callable[[Any], bool] | None
Rule = tuple[frozenset[Interaction], int, Needed, type[errors.AdapterError], str]

#: (interactions, status, codes that must be present or None, error, message). First match wins.
TABLE: tuple[Rule, ...] = (
    (frozenset({S}), 404, None, errors.ServiceNotFound, "the provider holds no such service"),
    (frozenset({R, C}), 404, None, errors.BookingNotFound, "the provider has no such booking"),
    (frozenset({B}), 422, NO_SUCH_SLOT, errors.SlotNotFound, "the provider has no such slot"),
    (frozenset({B}), 422, slot_taken, errors.SlotUnavailable, "the slot is no longer free"),
    # A resend while the first send is still being worked on: nobody knows yet.
    (frozenset({B}), 409, DUPLICATE, errors.OutcomeUnknown, "an earlier send is in progress"),
    # er_overview.md: "The requested Slot is no longer free -> 409" (a 409 with a
    # pointer to an earlier booking is recovered before this table is consulted).
    (frozenset({B}), 409, None, errors.SlotUnavailable, "the slot is no longer free"),
    (frozenset({B}), 422, None, errors.BookingRejected, "the provider refused the booking"),
    (frozenset({B}), 400, None, errors.BookingRejected, "the provider found the booking invalid"),
    (frozenset({C}), 422, None, errors.BookingNotCancellable, "the provider refused the cancel"),
    (frozenset({B}), 403, None, AccessRefused, "the SSP or provider refused this consumer"),
    (ANY, 403, None, AccessRefused, "the SSP or provider refused this consumer"),
    (ANY, 405, None, errors.CapabilityNotSupported, "the provider does not offer this"),
    (ANY, 501, None, errors.CapabilityNotSupported, "the provider does not offer this"),
    (frozenset({C}), 409, None, ConflictPersisted, "the booking kept changing"),
    # A 412 to every freshly read version is the provider refusing our If-Match itself.
    (frozenset({C}), 412, None, ProviderIncompatible, "the provider refused the version"),
    # 504: the SSP forwarded the request and the provider did not answer in time; a
    # booking or cancel may have been made (fs_xti.md: resend with the same X-Request-ID).
    (frozenset({B, C}), 504, None, errors.OutcomeUnknown, "the provider timed out"),
    (ANY, 504, None, errors.SupplierTimeout, "the provider timed out"),
    (ANY, 415, None, ProviderIncompatible, "the provider refused the media type"),
    (ANY, 406, None, ProviderIncompatible, "the provider cannot answer in JSON"),
    (ANY, 500, None, errors.SupplierUnavailable, "the provider failed"),
    (ANY, 502, None, errors.SupplierUnavailable, "the provider is offline"),
    (ANY, 503, None, errors.SupplierUnavailable, "the provider is unavailable"),
)


def codes(body: Any) -> set[str]:
    """Issue codes and coded details of an OperationOutcome (empty for anything else)."""
    found: set[str] = set()
    if not isinstance(body, dict) or body.get("resourceType") != "OperationOutcome":
        return found
    for issue in _dicts(body.get("issue")):
        if isinstance(issue.get("code"), str):
            found.add(issue["code"])
        for coding in _dicts((issue.get("details") or {}).get("coding")):
            if isinstance(coding.get("code"), str):
                found.add(coding["code"])
    return found


def _dicts(value: Any) -> Iterable[dict[str, Any]]:
    return (v for v in value if isinstance(v, dict)) if isinstance(value, list) else ()


_CODE = re.compile(r"^[A-Za-z0-9_.:\-]{1,64}$")


def detail(reply: Reply) -> str:
    """What the provider said, for the log: status, outcome id and codes, never free text."""
    parts = [f"HTTP {reply.status}"]
    body = reply.body
    if reply.malformed:
        parts.append("unreadable body")
    elif isinstance(body, dict) and body.get("resourceType") == "OperationOutcome":
        outcome_id = body.get("id")
        if isinstance(outcome_id, str) and _CODE.match(outcome_id):
            parts.append(f"OperationOutcome {outcome_id}")
        for issue in _dicts(body.get("issue")):
            coded = [issue.get("severity"), issue.get("code")]
            coded += [c.get("code") for c in _dicts((issue.get("details") or {}).get("coding"))]
            parts.append("/".join(str(c) for c in coded if isinstance(c, str) and _CODE.match(c)))
    elif isinstance(body, dict) and isinstance(body.get("resourceType"), str):
        parts.append(f"unexpected {body['resourceType'][:64]}")
    return "; ".join(parts)


def error_for(interaction: Interaction, reply: Reply) -> errors.AdapterError:
    """The typed error for an unwanted answer to ``interaction``, by the table above."""
    found = codes(reply.body)
    for interactions, status, needed, typed, message in TABLE:
        if interaction not in interactions or reply.status != status:
            continue
        if needed is None or (needed(reply.body) if callable(needed) else needed & found):
            return typed(f"{message} (HTTP {status})", supplier_detail=detail(reply))
    if 400 <= reply.status < 500:
        return ProviderIncompatible(
            f"the provider refused the request (HTTP {reply.status})", supplier_detail=detail(reply)
        )
    if reply.status >= 500:
        return errors.SupplierUnavailable(
            f"the provider failed (HTTP {reply.status})", supplier_detail=detail(reply)
        )
    return errors.SupplierProtocolError(
        f"unexpected answer (HTTP {reply.status})", supplier_detail=detail(reply)
    )


def malformed(interaction: Interaction, reply: Reply, what: str) -> errors.AdapterError:
    """A success status whose body is not what the interaction returns."""
    name = interaction.name.lower()
    return errors.SupplierProtocolError(
        f"{name}: the provider's answer is not {what}", supplier_detail=detail(reply)
    )


_POINTER = re.compile(r"(?:^|/)Appointment/([A-Za-z0-9\-.]{1,64})(?:/_history/[A-Za-z0-9\-.]+)?")


def pointer(reply: Reply) -> str | None:
    """The Appointment id a 409 'X-Request-ID used before' points at, if it points.

    The gateway's own provider side (and fs_xti.md's intent) answers a resent
    X-Request-ID with 409 plus Content-Location; providers that only say it in
    the OperationOutcome diagnostics are read too. The URL found is used only to
    take the id: the booking is then read at the provider we booked with.
    """
    candidates = [reply.header("Content-Location"), reply.header("Location")]
    body = reply.body
    if isinstance(body, dict) and body.get("resourceType") == "OperationOutcome":
        candidates += [i.get("diagnostics") for i in _dicts(body.get("issue"))]
    for text in candidates:
        if not isinstance(text, str):
            continue
        for word in text.split():
            match = _POINTER.search(word.strip("'\".,;()"))
            if match:
                return match.group(1)
    return None


def is_duplicate(reply: Reply) -> bool:
    """A 409 that says 'this X-Request-ID was used before' (DUPLICATE_REJECTED / duplicate)."""
    return bool(DUPLICATE & codes(reply.body))
