"""Booking policies across borders: the files an integrator writes, read and checked.

A policy folder holds ``policy.yaml`` (per service: who may see, book and cancel, the
slot release rules, what an out-of-area booking needs and who pays for it) and the
ODS → region table it names (``regions.csv``: ``ods_code,region,icb,commissioner``).
Both are validated on load; every problem names ``file:line:column``.

Groups name consumer organisations: ``any``, ``in-area`` / ``out-of-area`` (the
consumer's region against the service's), ``region:R``, ``icb:I``,
``commissioner:C``, ``ods:CODE``, and for cancelling ``booked-by`` (the organisation
that made the booking). fs_slotmanagement.md: the provider decides which slots are
released to which consumer, from the JWT's organisation and the service asked for.
"""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from adapters._csvtable import DataFileError, read_table
from adapters.domain import DeliveryChannel
from gateway._yaml import DuplicateKey, Marks, load_with_marks, where

POLICY_FILE = "policy.yaml"
#: Group kinds that take a value after the colon.
VALUED = frozenset({"region", "icb", "commissioner", "ods"})
PLAIN = frozenset({"any", "in-area", "out-of-area", "booked-by"})


class PolicyError(ValueError):
    """The policy files are unreadable or invalid; each problem says file:line:column."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


class _Part(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_group(value: str) -> str:
    kind, _, rest = value.partition(":")
    if value in PLAIN or (kind in VALUED and rest.strip()):
        return value
    raise ValueError(
        f"'{value}' is not a group: use any, in-area, out-of-area, booked-by, "
        "region:R, icb:I, commissioner:C or ods:CODE"
    )


Groups = tuple[str, ...]


class Accountable(enum.StrEnum):
    #: The consumer's commissioner (from the regions table) pays for out-of-area care.
    CONSUMER = "consumer"
    #: The service's own commissioner pays whoever books.
    PROVIDER = "provider"


class OutOfArea(_Part):
    """What an out-of-area booking needs, and whose commissioner is accountable."""

    #: Whether a booking from outside the service's region must say why.
    reason_required: bool = False
    #: The reason codes accepted (empty: any non-empty code).
    reasons: tuple[str, ...] = ()
    #: ``consumer``, ``provider``, or a commissioner code named outright.
    accountable: str = Accountable.CONSUMER.value


class InAreaShare(_Part):
    """A share of each session kept for in-area consumers until ``until_hours_before``."""

    name: str = Field(min_length=1)
    kind: Literal["in_area_share"]
    share: float = Field(gt=0, le=1)
    until_hours_before: float = Field(ge=0)


class OutOfAreaWindow(_Part):
    """Out-of-area consumers see only slots starting within ``within_hours`` of now."""

    name: str = Field(min_length=1)
    kind: Literal["out_of_area_window"]
    within_hours: float = Field(gt=0)


class NamedConsumers(_Part):
    """Slots of some schedules and/or delivery channels only for the groups named."""

    name: str = Field(min_length=1)
    kind: Literal["named_consumers"]
    consumers: Groups = Field(min_length=1)
    schedules: tuple[str, ...] = ()
    delivery_channels: tuple[DeliveryChannel, ...] = ()

    @field_validator("consumers")
    @classmethod
    def _groups(cls, value: Groups) -> Groups:
        return tuple(_check_group(v) for v in value)


Release = InAreaShare | OutOfAreaWindow | NamedConsumers


class ServicePolicy(_Part):
    """The rules of one national service id."""

    #: The provider's region, as the regions table names regions.
    region: str = Field(min_length=1)
    #: The commissioner accountable for in-area bookings (and for out-of-area ones
    #: when ``out_of_area.accountable`` is ``provider``).
    commissioner: str = Field(min_length=1)
    see: Groups = ("any",)
    book: Groups = ("any",)
    #: Default: the booking groups; the organisation that booked may always cancel.
    cancel: Groups | None = None
    out_of_area: OutOfArea = OutOfArea()
    release: tuple[Annotated[Release, Field(discriminator="kind")], ...] = ()

    @field_validator("see", "book", "cancel")
    @classmethod
    def _groups(cls, value: Groups | None) -> Groups | None:
        return None if value is None else tuple(_check_group(v) for v in value)

    @field_validator("release")
    @classmethod
    def _unique(cls, value: tuple[Release, ...]) -> tuple[Release, ...]:
        names = [r.name for r in value]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"release rule names must be unique: {', '.join(twice)}")
        return value


class PolicyFile(_Part):
    """``policy.yaml``."""

    #: The ODS → region table, relative to the policy folder.
    regions: str = "regions.csv"
    #: Services with no entry here are not restricted (and no booking is cross-border).
    services: dict[str, ServicePolicy] = Field(default_factory=dict)


class Region(_Part):
    """One row of the regions table: where a consumer organisation belongs."""

    ods_code: str
    region: str
    icb: str | None = None
    commissioner: str | None = None


def _located(path: Path, marks: Marks, loc: tuple[Any, ...]) -> str:
    # A release rule's errors name its kind (pydantic's discriminator tag) between the
    # item and the field, which the file does not have: parts not written are passed over.
    written: tuple[Any, ...] = ()
    for part in loc:
        if (*written, part) in marks:
            written = (*written, part)
    found = where(marks, written)
    return f"{path}:{found[0]}:{found[1]}" if found else str(path)


def _read_yaml(path: Path) -> tuple[dict[str, Any], Marks]:
    try:
        duplicates: list[DuplicateKey] = []
        raw, marks = load_with_marks(path.read_text(encoding="utf-8"), duplicates)
    except FileNotFoundError:
        raise PolicyError([f"{path}: policy file not found"]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise PolicyError([f"{path}: unreadable: {exc}"]) from exc
    except Exception as exc:  # YAML syntax
        mark = getattr(exc, "problem_mark", None)
        at = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        raise PolicyError([f"{at}: {getattr(exc, 'problem', None) or exc}"]) from exc
    if duplicates:
        raise PolicyError([f"{path}: {d}" for d in duplicates])
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise PolicyError([f"{path}:1:1: a policy file is a mapping (regions:, services:)"])
    return raw, marks


def _validated(path: Path, raw: dict[str, Any], marks: Marks) -> PolicyFile:
    try:
        return PolicyFile.model_validate(raw)
    except ValidationError as exc:
        raise PolicyError(
            [
                f"{_located(path, marks, tuple(e['loc']))}: "
                f"{'.'.join(map(str, e['loc']))}: {e['msg']}"
                for e in exc.errors()
            ]
        ) from None


def load_regions(folder: Path, name: str) -> dict[str, Region]:
    """The regions table ``folder/name``; DataFileError at the first bad row."""
    rows = read_table(folder, name, ("ods_code", "region"), ("icb", "commissioner"))
    table: dict[str, Region] = {}
    for row in rows:
        code = row.required("ods_code").upper()
        if code in table:
            raise row.error("ods_code", f"'{code}' is listed twice")
        table[code] = Region(
            ods_code=code,
            region=row.required("region"),
            icb=row.optional("icb"),
            commissioner=row.optional("commissioner"),
        )
    return table


def load_files(folder: Path) -> tuple[PolicyFile, dict[str, Region]]:
    """``folder/policy.yaml`` and its regions table; PolicyError listing what is wrong."""
    path = folder / POLICY_FILE
    raw, marks = _read_yaml(path)
    policy = _validated(path, raw, marks)
    try:
        regions = load_regions(folder, policy.regions)
    except DataFileError as exc:
        raise PolicyError([exc.located()]) from exc
    problems = []
    known = {r.region for r in regions.values()}
    for sid, service in policy.services.items():
        groups = [*service.see, *service.book, *(service.cancel or ())]
        groups += [g for r in service.release if isinstance(r, NamedConsumers) for g in r.consumers]
        for group in groups:
            kind, _, value = group.partition(":")
            if kind == "region" and value not in known | {service.region}:
                loc = _located(path, marks, ("services", sid))
                problems.append(f"{loc}: group '{group}' names a region no consumer is in")
    if problems:
        raise PolicyError(problems)
    return policy, regions


#: The code system of out-of-area reasons in Appointment.reason (STU3) and
#: Appointment.reasonCode (BaRS, R4); HL7 v2 carries the code in ARQ-7.1.
REASON_SYSTEM = "urn:uec-gateway:codesystem:out-of-area-reason"
