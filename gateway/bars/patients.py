"""Who a ``GET /Appointment`` search is for: the NHS number, or demographics
(api/booking-and-referral-1.4.0.yaml getBookingByPatient: ``patient:identifier``
alone, or ``patient:name`` with ``patient:birthdate`` and
``patient:address-postalcode``: "expected ... in conjunction ... to ensure a unique
match"; docs/spec-choices.md, "BaRS receiver: updates, reschedule, demographics").
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime

from multidict import MultiMapping

from adapters.domain import Patient
from gateway.bars.errors import Rec, RecError
from gateway.fhir import search as stu3_search

NAME, BIRTHDATE, POSTCODE = "patient:name", "patient:birthdate", "patient:address-postalcode"
DEMOGRAPHICS = (NAME, BIRTHDATE, POSTCODE)
_PREFIX = re.compile(r"^([a-z]{2})(?=\d)")
_DATE_FORMATS = ("%Y-%m-%d", "%d/%m/%Y")


def _bad(issue: str, message: str, expression: str) -> RecError:
    return RecError(Rec.BAD_REQUEST, issue, message, expression=expression)


@dataclass(frozen=True, slots=True)
class Demographics:
    """Name words, date of birth and home postcode: each one given must match (FHIR string
    search: a word matches the start of a name part, whatever its case)."""

    words: tuple[str, ...] = ()
    birth_date: date | None = None
    postcode: str | None = None

    def matches(self, patient: Patient) -> bool:
        name = patient.name
        parts = [p.casefold() for p in (name.family or "", *name.given, *name.prefix) if p]
        names = [w for p in parts for w in re.split(r"[\s\-']+", p) if w]
        if not all(any(n.startswith(w) for n in names) for w in self.words):
            return False
        if self.birth_date is not None and patient.birth_date != self.birth_date:
            return False
        if self.postcode is None:
            return True
        address = patient.address
        home = address.use in (None, "home") and address.postcode is not None
        return home and _postcode(address.postcode or "") == self.postcode


def _postcode(value: str) -> str:
    return re.sub(r"\s+", "", value).upper()


def _one(query: MultiMapping[str], name: str) -> str:
    values = query.getall(name, [])
    if len(values) > 1:
        raise _bad("value", f"{name} may be given once", name)
    value = values[0].strip()
    if not value:
        raise _bad("value", f"{name} is empty", name)
    return value


def _birth_date(raw: str) -> date:
    prefix = _PREFIX.match(raw)
    if prefix and prefix.group(1) != "eq":
        raise _bad("value", f"{BIRTHDATE} takes a date of birth (eq only)", BIRTHDATE)
    value = raw[2:] if prefix else raw
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(value, fmt).date()
        except ValueError:
            continue
    raise _bad("value", f"{BIRTHDATE} must be a date, YYYY-MM-DD (or DD/MM/YYYY)", BIRTHDATE)


def demographics(query: MultiMapping[str]) -> Demographics | None:
    """The demographics asked for; None if none are. Some without the others is 400 unless
    an NHS number is given too (then they narrow it)."""
    given = [p for p in DEMOGRAPHICS if p in query]
    if not given:
        return None
    missing = [p for p in DEMOGRAPHICS if p not in query]
    if missing and not has_identifier(query):
        raise _bad(
            "required",
            f"a search by demographics needs {', '.join(DEMOGRAPHICS)} together "
            f"(missing: {', '.join(missing)}); or search by patient:identifier",
            missing[0],
        )
    return Demographics(
        words=tuple(w.casefold() for w in re.split(r"[\s,]+", _one(query, NAME)) if w)
        if NAME in query
        else (),
        birth_date=_birth_date(_one(query, BIRTHDATE)) if BIRTHDATE in query else None,
        postcode=_postcode(_one(query, POSTCODE)) if POSTCODE in query else None,
    )


def has_identifier(query: MultiMapping[str]) -> bool:
    return any(query.getall(p, []) for p in stu3_search.PATIENT_PARAMS)


def matcher(query: MultiMapping[str]) -> tuple[str | None, Callable[[Patient], bool]]:
    """(the NHS number asked for, if any; what else a patient must match)."""
    found = demographics(query)
    nhs = stu3_search.patient_nhs_number(query) if has_identifier(query) else None
    if nhs is None and found is None:
        raise _bad(
            "required",
            "search by patient:identifier=https://fhir.nhs.uk/Id/nhs-number|<NHS number>, or "
            f"by {', '.join(DEMOGRAPHICS)} together",
            "patient:identifier",
        )
    return nhs, (found.matches if found else lambda _: True)
