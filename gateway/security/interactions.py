"""The FHIR interactions the gateway serves, with the scope and SSP id each needs.

One table (``Interaction``) says, for every verb + path, which JWT
``requested_scope`` it needs (``fs_authentication.md``, "requested_scope claim")
and which ``Ssp-InteractionID`` the Spine proxy stamps on it
(``implementation_api.md``, "Spine Proxy Headers"; ``capabilitystatement.md``).

Scope rule (``fs_authentication.md``): "The appointment.write scope supports verbs
up to and including ones that can change data (e.g. POST and PUT). Whereas
appointment.read and slot.read scopes only retrieve data (e.g. just GET)." So:

- ``patient/appointment.write`` permits book and cancel, and also the read-only
  appointment interactions (read, vread, patient appointment search);
- ``patient/appointment.read`` permits only the read-only appointment interactions
  (the referral reads among them: a referral is read beside the booking it is for);
- ``organization/slot.read`` permits only metadata and slot search.

Scopes never cross resource families: appointment scopes do not permit slot
search or metadata, and slot.read permits nothing on appointments.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass

_URN = "urn:nhs:names:services:careconnect:fhir:rest:"


class Scope(enum.StrEnum):
    """The ``requested_scope`` values of fs_authentication.md's table."""

    SLOT_READ = "organization/slot.read"
    APPOINTMENT_READ = "patient/appointment.read"
    APPOINTMENT_WRITE = "patient/appointment.write"


@dataclass(frozen=True, slots=True)
class InteractionSpec:
    method: str
    #: Path below the service root, as documentation (``{id}`` marks a parameter).
    path: str
    #: The least scope that permits the interaction (others may too: see SCOPE_PERMITS).
    scope: Scope
    #: The Ssp-InteractionID the Spine proxy sends for it.
    interaction_id: str
    label: str


class Interaction(enum.Enum):
    METADATA = InteractionSpec(
        "GET", "/metadata", Scope.SLOT_READ, _URN + "read:metadata", "read the capability statement"
    )
    SLOT_SEARCH = InteractionSpec(
        "GET", "/Slot", Scope.SLOT_READ, _URN + "read:slot", "search for slots"
    )
    BOOK = InteractionSpec(
        "POST",
        "/Appointment",
        Scope.APPOINTMENT_WRITE,
        _URN + "create:appointment",
        "book an appointment",
    )
    # read and vread share one Ssp-InteractionID and one scope, so one member.
    READ = InteractionSpec(
        "GET",
        "/Appointment/{id}[/_history/{vid}]",
        Scope.APPOINTMENT_READ,
        _URN + "read:appointment",
        "read an appointment",
    )
    CANCEL = InteractionSpec(
        "PUT",
        "/Appointment/{id}",
        Scope.APPOINTMENT_WRITE,
        _URN + "update:appointment",
        "cancel an appointment",
    )
    SEARCH_APPOINTMENTS = InteractionSpec(
        "GET",
        "/Appointment",
        Scope.APPOINTMENT_READ,
        _URN + "search:appointment",
        "search a patient's appointments",
    )
    # The referrals the gateway stores, as CareConnect ReferralRequests: the Booking API
    # names no ids for them, so these follow its "<verb>:<resource>" pattern, with
    # the security of an appointment read (docs/spec-choices.md).
    READ_REFERRAL = InteractionSpec(
        "GET",
        "/ReferralRequest/{id}[/_history/{vid}]",
        Scope.APPOINTMENT_READ,
        _URN + "read:referralrequest",
        "read a referral",
    )
    SEARCH_REFERRALS = InteractionSpec(
        "GET",
        "/ReferralRequest",
        Scope.APPOINTMENT_READ,
        _URN + "search:referralrequest",
        "search a patient's referrals",
    )

    @property
    def spec(self) -> InteractionSpec:
        value: InteractionSpec = self.value
        return value

    @property
    def method(self) -> str:
        return self.spec.method

    @property
    def path(self) -> str:
        return self.spec.path

    @property
    def scope(self) -> Scope:
        return self.spec.scope

    @property
    def interaction_id(self) -> str:
        return self.spec.interaction_id

    @property
    def label(self) -> str:
        return self.spec.label


_APPOINTMENT_READS = frozenset(
    {
        Interaction.READ,
        Interaction.SEARCH_APPOINTMENTS,
        Interaction.READ_REFERRAL,
        Interaction.SEARCH_REFERRALS,
    }
)

#: What each scope permits (see the module docstring for the rule and its source).
# capabilitystatement.md: a provider should always be able to return its
# CapabilityStatement, so every booking scope may read /metadata (the scope
# table names slot.read for it; a consumer holding only an appointment token
# must still be able to discover the server).
SCOPE_PERMITS: Mapping[Scope, frozenset[Interaction]] = {
    Scope.SLOT_READ: frozenset({Interaction.METADATA, Interaction.SLOT_SEARCH}),
    Scope.APPOINTMENT_READ: _APPOINTMENT_READS | {Interaction.METADATA},
    Scope.APPOINTMENT_WRITE: _APPOINTMENT_READS
    | {Interaction.METADATA, Interaction.BOOK, Interaction.CANCEL},
}


def scopes_permitting(interaction: Interaction) -> tuple[Scope, ...]:
    """Every scope that permits ``interaction``, least privileged first."""
    return tuple(s for s in Scope if interaction in SCOPE_PERMITS[s])


def permits(requested_scope: str, interaction: Interaction) -> bool:
    """Whether a ``requested_scope`` claim permits ``interaction``.

    The claim holds one scope (fs_authentication.md); an OAuth-style
    space-separated list is also read, and is permitted if any member is.
    Unknown scope strings permit nothing.
    """
    granted = {s for s in Scope if s.value in requested_scope.split()}
    return any(interaction in SCOPE_PERMITS[s] for s in granted)


_ROUTES: tuple[tuple[str, re.Pattern[str], Interaction], ...] = (
    ("GET", re.compile(r"/metadata"), Interaction.METADATA),
    ("GET", re.compile(r"/Slot"), Interaction.SLOT_SEARCH),
    ("POST", re.compile(r"/Appointment"), Interaction.BOOK),
    ("GET", re.compile(r"/Appointment"), Interaction.SEARCH_APPOINTMENTS),
    ("GET", re.compile(r"/Appointment/[^/]+(/_history/[^/]+)?"), Interaction.READ),
    ("PUT", re.compile(r"/Appointment/[^/]+"), Interaction.CANCEL),
    ("GET", re.compile(r"/ReferralRequest"), Interaction.SEARCH_REFERRALS),
    ("GET", re.compile(r"/ReferralRequest/[^/]+(/_history/[^/]+)?"), Interaction.READ_REFERRAL),
)


def resolve(method: str, path: str) -> Interaction | None:
    """The interaction for a verb and a path below the service root, or None.

    ``path`` excludes the service root and the query string, e.g.
    ``/Appointment/123/_history/2``. Ids are not validated here.
    """
    verb = method.upper()
    for route_method, pattern, interaction in _ROUTES:
        if verb == route_method and pattern.fullmatch(path):
            return interaction
    return None
