"""verify_bearer: claim-by-claim validation of unsigned consumer tokens."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.config import JwtSettings
from gateway.errors import ErrorKind
from gateway.security import REQUIRED_CLAIMS, Interaction, mint_token
from tests.security.helpers import (
    APPT_READ,
    APPT_WRITE,
    AUDIENCE,
    NOW,
    SLOT_READ,
    payload,
    rejection,
    unsigned,
    verify,
)


def test_minted_token_verifies() -> None:
    """A token from mint_token passes and yields who is asking."""
    token = mint_token(scope=APPT_WRITE, audience=AUDIENCE, now=NOW)
    claims = verify(token)
    assert claims.sub == "10019"
    assert claims.aud == AUDIENCE
    assert claims.requested_scope == APPT_WRITE
    assert claims.organisation.ods_code == "A1001"
    assert claims.organisation.name == "Demo 111 Service"
    assert claims.device.identifier.value == "uec-gateway-cli"
    assert claims.practitioner is not None and claims.practitioner.id == "10019"
    assert claims.algorithm == "none"
    assert (claims.exp, claims.iat) == (NOW + 300, NOW)


@pytest.mark.parametrize("claim", REQUIRED_CLAIMS)
def test_missing_required_claim_is_named(claim: str) -> None:
    """Each required claim, when absent, is a 403 naming that claim."""
    claims = payload()
    del claims[claim]
    exc = rejection(unsigned(claims), ErrorKind.JWT_INVALID)
    assert exc.diagnostics == f"JWT is missing required claim(s): {claim}"
    assert 'error="invalid_token"' in exc.headers["WWW-Authenticate"]


def test_all_missing_claims_are_listed() -> None:
    """Several absent claims are reported together, in the spec's order."""
    claims = payload()
    del claims["iat"], claims["iss"]
    exc = rejection(unsigned(claims), ErrorKind.JWT_INVALID)
    assert exc.diagnostics.endswith("iss, iat")


@pytest.mark.parametrize(
    ("claim", "value", "named"),
    [
        ("exp", "1700000300", "exp"),
        ("iat", 1.5, "iat"),
        ("iss", "", "iss"),
        ("aud", 42, "aud"),
        ("requesting_device", "CONS-APP-4", "requesting_device"),
        (
            "requesting_organization",
            {"resourceType": "Device"},
            "requesting_organization.resourceType",
        ),
    ],
)
def test_wrongly_typed_claim_is_named(claim: str, value: Any, named: str) -> None:
    """A claim of the wrong JSON type is a 403 naming the claim's path."""
    exc = rejection(unsigned(payload(**{claim: value})), ErrorKind.JWT_INVALID)
    assert exc.diagnostics.startswith(f"JWT claim {named} is invalid")


def test_non_object_resource_claim_says_json_object() -> None:
    """A resource claim that is not an object is described without internal names."""
    exc = rejection(unsigned(payload(requesting_practitioner="10019")), ErrorKind.JWT_INVALID)
    assert exc.diagnostics == (
        "JWT claim requesting_practitioner is invalid: Input should be a JSON object"
    )


def test_nested_identifier_fault_is_named_with_its_index() -> None:
    """A bad identifier inside a resource claim is located precisely."""
    device = payload()["requesting_device"] | {"identifier": [{"system": "x"}]}
    exc = rejection(unsigned(payload(requesting_device=device)), ErrorKind.JWT_INVALID)
    assert "requesting_device.identifier[0].value" in exc.diagnostics


def test_expired_token_is_rejected() -> None:
    """A token past exp (and the skew) is refused as expired."""
    exc = rejection(unsigned(payload()), ErrorKind.JWT_INVALID, now=NOW + 1000)
    assert "expired" in exc.diagnostics and "exp" in exc.diagnostics


def test_clock_skew_boundary_for_exp() -> None:
    """exp is honoured up to, but not at, exp + clock_skew_s."""
    settings = JwtSettings(clock_skew_s=30)
    token = unsigned(payload())
    verify(token, settings=settings, now=NOW + 300 + 29.999)
    rejection(token, ErrorKind.JWT_INVALID, settings=settings, now=NOW + 300 + 30)


def test_clock_skew_boundary_for_iat() -> None:
    """iat may be up to clock_skew_s in the future, and no more."""
    settings = JwtSettings(clock_skew_s=30)
    token = unsigned(payload())
    verify(token, settings=settings, now=NOW - 30)
    exc = rejection(token, ErrorKind.JWT_INVALID, settings=settings, now=NOW - 31)
    assert "iat" in exc.diagnostics and "future" in exc.diagnostics


def test_lifetime_beyond_maximum_is_rejected() -> None:
    """exp - iat above max_lifetime_s is refused, naming both claims."""
    exc = rejection(unsigned(payload(exp=NOW + 301)), ErrorKind.JWT_INVALID)
    assert "exp - iat" in exc.diagnostics and "300s" in exc.diagnostics
    verify(unsigned(payload(exp=NOW + 600)), settings=JwtSettings(max_lifetime_s=600))


def test_exp_not_after_iat_is_rejected() -> None:
    """A token whose exp is not later than its iat is refused."""
    exc = rejection(unsigned(payload(exp=NOW)), ErrorKind.JWT_INVALID)
    assert "exp must be later than iat" in exc.diagnostics


def test_wrong_audience_is_rejected() -> None:
    """An aud that is not this service's root is refused, naming aud and the expected root."""
    exc = rejection(unsigned(payload(aud="https://other.example/STU3/1")), ErrorKind.JWT_INVALID)
    assert exc.diagnostics.startswith("aud is 'https://other.example/STU3/1'")
    assert AUDIENCE in exc.diagnostics


def test_audience_forms_accepted() -> None:
    """aud may be an array, carry a trailing '/', or be one of extra_audiences."""
    assert verify(unsigned(payload(aud=["https://x.example", AUDIENCE]))).aud == AUDIENCE
    verify(unsigned(payload(aud=AUDIENCE + "/")))
    old = "https://old-host.example/STU3/1"
    verify(unsigned(payload(aud=old)), settings=JwtSettings(extra_audiences=(old,)))


@pytest.mark.parametrize("suffix", ["//", "///", "/x", "x"])
def test_audience_with_more_than_one_trailing_slash_is_rejected(suffix: str) -> None:
    """Row 12: an aud of the service root plus '//' (or anything but one '/') is a 403."""
    exc = rejection(unsigned(payload(aud=AUDIENCE + suffix)), ErrorKind.JWT_INVALID)
    assert exc.diagnostics.startswith("aud is ")


def test_reason_for_request_must_be_directcare() -> None:
    """reason_for_request other than 'directcare' is refused, naming the claim."""
    exc = rejection(unsigned(payload(reason_for_request="secondaryuses")), ErrorKind.JWT_INVALID)
    assert exc.diagnostics.startswith("reason_for_request")


def test_wrong_scope_is_insufficient_scope() -> None:
    """A scope that does not permit the interaction is 403 with an insufficient_scope challenge."""
    exc = rejection(unsigned(payload(SLOT_READ)), ErrorKind.JWT_INVALID)
    assert "requested_scope 'organization/slot.read'" in exc.diagnostics
    assert "patient/appointment.write" in exc.diagnostics
    challenge = exc.headers["WWW-Authenticate"]
    assert 'error="insufficient_scope"' in challenge
    assert 'scope="patient/appointment.write"' in challenge


@pytest.mark.parametrize(
    ("scope", "interaction"),
    [
        (SLOT_READ, Interaction.METADATA),
        (SLOT_READ, Interaction.SLOT_SEARCH),
        (APPT_WRITE, Interaction.BOOK),
        (APPT_WRITE, Interaction.CANCEL),
        (APPT_WRITE, Interaction.READ),
        (APPT_WRITE, Interaction.SEARCH_APPOINTMENTS),
        (APPT_READ, Interaction.READ),
        (APPT_READ, Interaction.SEARCH_APPOINTMENTS),
    ],
)
def test_scope_permits_interaction(scope: str, interaction: Interaction) -> None:
    """Each scope is accepted for the interactions fs_authentication.md lets it do."""
    verify(unsigned(payload(scope)), interaction=interaction)


@pytest.mark.parametrize(
    ("scope", "interaction"),
    [
        (APPT_READ, Interaction.BOOK),
        (APPT_READ, Interaction.CANCEL),
        (SLOT_READ, Interaction.READ),
        (APPT_WRITE, Interaction.SLOT_SEARCH),
    ],
)
def test_scope_refuses_interaction(scope: str, interaction: Interaction) -> None:
    """A scope is refused for interactions beyond its verbs or resource."""
    rejection(unsigned(payload(scope)), ErrorKind.JWT_INVALID, interaction=interaction)


def test_organisation_needs_ods_identifier() -> None:
    """requesting_organization without an ODS-code identifier is refused, naming the system."""
    org = {"resourceType": "Organization", "identifier": [{"system": "https://x", "value": "1"}]}
    exc = rejection(unsigned(payload(requesting_organization=org)), ErrorKind.JWT_INVALID)
    assert exc.diagnostics == (
        "requesting_organization has no identifier with system "
        "https://fhir.nhs.uk/Id/ods-organization-code"
    )


def test_device_needs_identifier() -> None:
    """requesting_device without an identifier is refused, naming the claim."""
    device = {"resourceType": "Device", "model": "x", "version": "1"}
    exc = rejection(unsigned(payload(requesting_device=device)), ErrorKind.JWT_INVALID)
    assert exc.diagnostics == "requesting_device has no identifier"


def test_practitioner_claim_is_optional() -> None:
    """A token without requesting_practitioner is accepted and carries no practitioner."""
    token = mint_token(scope=APPT_WRITE, audience=AUDIENCE, now=NOW, practitioner_id=None)
    claims = verify(token)
    assert claims.practitioner is None
    assert claims.sub == "uec-gateway-cli"


def test_practitioner_id_must_match_sub() -> None:
    """requesting_practitioner.id differing from sub is refused, naming both."""
    exc = rejection(unsigned(payload(sub="someone-else")), ErrorKind.JWT_INVALID)
    assert exc.diagnostics == "requesting_practitioner.id does not match the sub claim"


def test_practitioner_identifiers_are_carried() -> None:
    """The practitioner's identifiers reach Claims for audit."""
    claims = verify(unsigned(payload()))
    assert claims.practitioner is not None
    assert [i.system for i in claims.practitioner.identifiers][:2] == [
        "https://fhir.nhs.uk/Id/sds-user-id",
        "https://fhir.nhs.uk/Id/sds-role-profile-id",
    ]


SPEC_PRACTITIONER = {
    # fs_authentication.md's requesting_practitioner example.
    "resourceType": "Practitioner",
    "id": "10019",
    "identifier": [
        {"system": "https://fhir.nhs.uk/Id/sds-user-id", "value": "111222333444"},
        {"system": "https://fhir.nhs.uk/Id/sds-role-profile-id", "value": "444555666777"},
    ],
    "name": [{"family": "Jones", "given": ["Claire"], "prefix": ["Dr"]}],
}


def test_practitioner_name_is_read_for_provenance() -> None:
    """The user's name in requesting_practitioner reaches the verified claims."""
    claims = verify(unsigned(payload(requesting_practitioner=SPEC_PRACTITIONER)))
    assert claims.practitioner is not None and claims.practitioner.name is not None
    name = claims.practitioner.name
    assert (name.prefix, name.given, name.family) == (("Dr",), ("Claire",), "Jones")


@pytest.mark.parametrize("name", [None, "Claire Jones", [{"family": 7}], [], [{"given": [3]}]])
def test_unreadable_practitioner_name_is_left_out_not_refused(name: Any) -> None:
    """A name consumers got wrong does not refuse the call: it only leaves the audit's name out."""
    claim = {**SPEC_PRACTITIONER, "name": name}
    claims = verify(unsigned(payload(requesting_practitioner=claim)))
    assert claims.practitioner is not None and claims.practitioner.id == "10019"
    assert claims.practitioner.name is None
