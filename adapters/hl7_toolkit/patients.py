"""The patient's tables of an HL7 v2 interface: PID-8 genders and PID-3 identifier systems.

``genders.csv`` and ``identifier_systems.csv`` have the format documented in
``mappings/hl7v2/README.md``; the HL7 v2 adapter reads them among its PAS
tables, the HL7 v2 front door from its own folder, so an integrator can copy
their PAS tables. Each is checked row by row on load (a ``DataFileError``
naming file, line and column); at run time a code with no row is a
``MappingError``, never passed through.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from adapters import errors
from adapters._csvtable import DataFileError, Row, read_table, unique_ids
from adapters.domain import Gender
from adapters.nhs import NHS_NUMBER_SYSTEM

__all__ = [
    "IDENTIFIER_KINDS",
    "NHS_NUMBER_SYSTEM",
    "IdentifierMap",
    "PatientTables",
    "read_genders",
    "read_identifiers",
    "read_patient_tables",
]

IDENTIFIER_KINDS = ("nhs-number", "local", "ignore")


@dataclass(frozen=True, slots=True)
class IdentifierMap:
    authority: str
    type_code: str
    system: str
    kind: str


@dataclass(frozen=True)
class PatientTables:
    """What reading and writing a PID needs: genders both ways and identifier systems."""

    genders_in: Mapping[str, Gender]
    genders_out: Mapping[Gender, str]
    identifiers: Mapping[tuple[str, str], IdentifierMap]

    def gender(self, code: str) -> Gender:
        found = self.genders_in.get(code)
        if found is None:
            raise errors.MappingError(f"no mapping for administrative sex '{_bounded(code)}'")
        return found

    def identifier(self, authority: str, type_code: str) -> IdentifierMap:
        found = self.identifiers.get((authority, type_code))
        if found is None:
            raise errors.MappingError(
                f"no mapping for identifier authority '{_bounded(authority)}' "
                f"type '{_bounded(type_code)}'"
            )
        return found

    def identifier_for_system(self, system: str) -> IdentifierMap:
        for item in self.identifiers.values():
            if item.kind != "ignore" and _system_matches(item.system, system):
                return item
        raise errors.MappingError("no mapping for the patient identifier's system")

    @property
    def nhs_number(self) -> IdentifierMap:
        return self.identifier_for_system(NHS_NUMBER_SYSTEM)


def _system_matches(pattern: str, system: str) -> bool:
    # A leading '*' matches any prefix: the gateway's own local-patient system
    # is "<service root>/Id/local-patient-identifier", which differs per deployment.
    if pattern.startswith("*"):
        return system.endswith(pattern[1:])
    return pattern == system


def _bounded(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


def read_patient_tables(folder: Path) -> PatientTables:
    """``genders.csv`` and ``identifier_systems.csv`` of ``folder``; raises ``DataFileError``."""
    genders_in, genders_out = read_genders(folder)
    return PatientTables(genders_in, genders_out, read_identifiers(folder))


def _gender(text: str) -> Gender:
    try:
        return Gender(text.lower())
    except ValueError:
        allowed = ", ".join(v.value for v in Gender)
        raise ValueError(f"'{text}' is not one of {allowed}") from None


def _flag(row: Row, column: str) -> bool:
    value = (row.optional(column) or "").lower()
    if value not in ("", "y", "yes", "n", "no"):
        raise row.error(column, f"'{value}' is not y or n")
    return value in ("y", "yes")


def read_genders(folder: Path) -> tuple[dict[str, Gender], dict[Gender, str]]:
    genders_in: dict[str, Gender] = {}
    genders_out: dict[Gender, str] = {}
    rows = unique_ids(
        read_table(folder, "genders.csv", ("pas_code", "gender"), ("preferred",)), "pas_code"
    )
    for code, row in rows.items():
        gender = row.parsed("gender", _gender)
        genders_in[code] = gender
        if _flag(row, "preferred"):
            if gender in genders_out:
                raise row.error("preferred", f"a second preferred code for {gender.value}")
            genders_out[gender] = code
    missing = [g.value for g in Gender if g not in genders_out]
    if missing:
        raise DataFileError("genders.csv", f"no preferred code for {', '.join(missing)}")
    return genders_in, genders_out


def read_identifiers(folder: Path) -> dict[tuple[str, str], IdentifierMap]:
    out: dict[tuple[str, str], IdentifierMap] = {}
    columns = ("assigning_authority", "type_code", "system", "kind")
    for row in read_table(folder, "identifier_systems.csv", columns, ()):
        key = (row.required("assigning_authority"), row.required("type_code"))
        if key in out:
            raise row.error("type_code", f"duplicate authority/type {key[0]}/{key[1]}")
        kind = row.required("kind")
        if kind not in IDENTIFIER_KINDS:
            raise row.error("kind", f"'{kind}' is not one of {', '.join(IDENTIFIER_KINDS)}")
        out[key] = IdentifierMap(key[0], key[1], row.required("system"), kind)
    if not any(i.system == NHS_NUMBER_SYSTEM and i.kind == "nhs-number" for i in out.values()):
        raise DataFileError("identifier_systems.csv", f"no nhs-number row for {NHS_NUMBER_SYSTEM}")
    return out
