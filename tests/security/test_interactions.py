"""The interaction table: scopes, Ssp-InteractionIDs and verb + path resolution."""

from __future__ import annotations

import pytest

from gateway.security import Interaction, Scope, permits, resolve, scopes_permitting

URN = "urn:nhs:names:services:careconnect:fhir:rest:"


@pytest.mark.parametrize(
    ("interaction", "scope", "interaction_id"),
    [
        (Interaction.METADATA, Scope.SLOT_READ, URN + "read:metadata"),
        (Interaction.SLOT_SEARCH, Scope.SLOT_READ, URN + "read:slot"),
        (Interaction.BOOK, Scope.APPOINTMENT_WRITE, URN + "create:appointment"),
        (Interaction.READ, Scope.APPOINTMENT_READ, URN + "read:appointment"),
        (Interaction.CANCEL, Scope.APPOINTMENT_WRITE, URN + "update:appointment"),
        (Interaction.SEARCH_APPOINTMENTS, Scope.APPOINTMENT_READ, URN + "search:appointment"),
    ],
)
def test_table_matches_the_spec(
    interaction: Interaction, scope: Scope, interaction_id: str
) -> None:
    """Each interaction carries the scope and Ssp-InteractionID the brief and spec give."""
    assert interaction.scope is scope
    assert interaction.interaction_id == interaction_id


@pytest.mark.parametrize(
    ("method", "path", "expected"),
    [
        ("GET", "/metadata", Interaction.METADATA),
        ("GET", "/Slot", Interaction.SLOT_SEARCH),
        ("POST", "/Appointment", Interaction.BOOK),
        ("get", "/Appointment", Interaction.SEARCH_APPOINTMENTS),
        ("GET", "/Appointment/abc-1", Interaction.READ),
        ("GET", "/Appointment/abc-1/_history/2", Interaction.READ),
        ("PUT", "/Appointment/abc-1", Interaction.CANCEL),
        ("DELETE", "/Appointment/abc-1", None),
        ("PUT", "/Appointment", None),
        ("GET", "/Patient", None),
    ],
)
def test_resolve_verb_and_path(method: str, path: str, expected: Interaction | None) -> None:
    """resolve() maps each verb + path below the service root to its interaction."""
    assert resolve(method, path) is expected


def test_write_scope_includes_appointment_reads_not_slot_search() -> None:
    """appointment.write permits the appointment reads and metadata, not slot search."""
    assert scopes_permitting(Interaction.READ) == (Scope.APPOINTMENT_READ, Scope.APPOINTMENT_WRITE)
    assert scopes_permitting(Interaction.SLOT_SEARCH) == (Scope.SLOT_READ,)
    assert not permits("patient/appointment.write", Interaction.SLOT_SEARCH)


def test_every_scope_may_read_metadata() -> None:
    """capabilitystatement.md: any booking scope can discover the server's capabilities."""
    assert set(scopes_permitting(Interaction.METADATA)) == set(Scope)


def test_space_separated_scopes_and_unknown_scopes() -> None:
    """A space-separated scope list is permitted if any member is; unknown scopes permit nothing."""
    assert permits("organization/slot.read patient/appointment.write", Interaction.BOOK)
    assert not permits("patient/*.write", Interaction.BOOK)
    assert not permits("", Interaction.METADATA)
