"""The quick structure check never admits what fhir.resources refuses (gateway/fhir/_fastcheck.py).

Its yes skips the full fhir.resources validation of an incoming Appointment, so
a yes must imply that validation passes. Pinned differentially: the booking
body of appointment.md and thousands of mutations of it (elements dropped,
replaced by every wrong JSON type, emptied, nulled, duplicated into lists,
unknown names added, choice groups doubled) go through both.
"""

from __future__ import annotations

import copy
import random
from collections.abc import Iterator
from typing import Any

import pytest
from fhir.resources.STU3.appointment import Appointment
from pydantic import ValidationError

from gateway.examples import booking_body
from gateway.fhir._fastcheck import STU3_CHECKER
from gateway.fhir._jsontypes import wrong_json_type
from gateway.fhir.appointment import _tolerate

SLOT = {
    "resourceType": "Slot",
    "id": "slot1",
    "identifier": [
        {"system": "https://tools.ietf.org/html/rfc4122", "value": "a2f5d5a0-0000-4000-8000-1"}
    ],
    "schedule": {"reference": "Schedule/sch1"},
    "status": "free",
    "start": "2030-01-08T10:00:00.000+00:00",
    "end": "2030-01-08T10:10:00.000+00:00",
}
REPLACEMENTS: tuple[Any, ...] = (
    None,
    "",
    " ",
    "x y",
    "2030-13-45",
    "2030-01-08T10:00:00Z",
    0,
    -1,
    1.5,
    True,
    [],
    {},
    ["a"],
    [{}],
    [None],
    {"x": 1},
    {"value": "v"},
    "a" * 300,
)


def _full_check_passes(data: dict[str, Any]) -> bool:
    try:
        parsed = Appointment.model_validate(data)
    except (ValidationError, ValueError, TypeError, KeyError):
        return False
    return wrong_json_type(data, parsed, "Appointment") is None


def _paths(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield (*path, key)
            yield from _paths(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield (*path, index)
            yield from _paths(item, (*path, index))


def _set(data: Any, path: tuple[Any, ...], value: Any) -> None:
    for step in path[:-1]:
        data = data[step]
    data[path[-1]] = value


def _delete(data: Any, path: tuple[Any, ...]) -> None:
    for step in path[:-1]:
        data = data[step]
    del data[path[-1]]


def _get(data: Any, path: tuple[Any, ...]) -> Any:
    for step in path:
        data = data[step]
    return data


def _mutants(body: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for path in list(_paths(body)):
        dropped = copy.deepcopy(body)
        _delete(dropped, path)
        yield dropped
        for replacement in REPLACEMENTS:
            changed = copy.deepcopy(body)
            _set(changed, path, copy.deepcopy(replacement))
            yield changed
        wrapped = copy.deepcopy(body)
        _set(wrapped, path, [copy.deepcopy(_get(body, path))])
        yield wrapped
        if isinstance(path[-1], str):
            extended = copy.deepcopy(body)
            parent = _get(extended, path[:-1])
            parent["_" + path[-1]] = {"extension": []}
            parent["unknownElement"] = "x"
            yield extended


@pytest.fixture(scope="module")
def body() -> dict[str, Any]:
    return _tolerate(booking_body(SLOT))


def test_a_valid_booking_is_known_valid_without_the_full_check(body: dict[str, Any]) -> None:
    """The appointment.md booking passes the quick check (so bookings take the fast path)."""
    assert _full_check_passes(body)
    assert STU3_CHECKER.surely_valid(body, Appointment)


def test_no_mutant_the_full_check_refuses_is_passed_quickly(body: dict[str, Any]) -> None:
    """Every mutation the quick check passes, fhir.resources passes; most bad ones it refuses."""
    passed_quickly = refused = 0
    for mutant in _mutants(body):
        if STU3_CHECKER.surely_valid(mutant, Appointment):
            passed_quickly += 1
            assert _full_check_passes(mutant), mutant
        elif not _full_check_passes(mutant):
            refused += 1
    assert passed_quickly > 50
    assert refused > 500


def test_random_double_mutations_never_pass_quickly_when_invalid(body: dict[str, Any]) -> None:
    """Two mutations at once (seeded): a quick yes still implies a full yes."""
    rng = random.Random(14)
    paths = list(_paths(body))
    for _ in range(1500):
        mutant = copy.deepcopy(body)
        for _ in range(2):
            path = rng.choice(paths)
            try:
                _set(mutant, path, copy.deepcopy(rng.choice(REPLACEMENTS)))
            except (KeyError, IndexError, TypeError):
                continue
        if STU3_CHECKER.surely_valid(mutant, Appointment):
            assert _full_check_passes(mutant), mutant


def test_a_choice_group_with_two_members_is_not_passed_quickly(body: dict[str, Any]) -> None:
    """An extension with two value[x] members goes to the full check (which refuses it)."""
    mutant = copy.deepcopy(body)
    patient = next(c for c in mutant["contained"] if c["resourceType"] == "Patient")
    extension = patient["identifier"][0]["extension"][0]
    assert "valueCodeableConcept" in extension
    extension["valueString"] = "two"
    assert not STU3_CHECKER.surely_valid(mutant, Appointment)
    assert not _full_check_passes(mutant)
