"""mint_token: consumer JWTs shaped exactly like fs_authentication.md's example."""

from __future__ import annotations

import base64
import json
from importlib.metadata import version as package_version
from typing import Any

import pytest

from gateway.security import build_payload, encode_token, mint_token
from tests.security.helpers import APPT_WRITE, AUDIENCE, NOW


def _part(token: str, index: int) -> dict[str, Any]:
    part = token.split(".")[index]
    value: dict[str, Any] = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    return value


def test_unsigned_token_has_trailing_dot_and_none_header() -> None:
    """alg 'none' gives header.payload. with the spec's exact header."""
    token = mint_token(scope=APPT_WRITE, audience=AUDIENCE, now=NOW)
    assert token.endswith(".") and token.count(".") == 2
    assert token.split(".")[0] == "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0"
    assert _part(token, 0) == {"alg": "none", "typ": "JWT"}


def test_payload_has_every_claim_of_the_full_example() -> None:
    """The payload has the full example's claims and identifier systems; the device's version
    is the gateway's own (as in requests the gateway makes for legacy systems)."""
    claims = _part(mint_token(scope=APPT_WRITE, audience=AUDIENCE, now=NOW), 1)
    assert list(claims) == [
        "iss",
        "sub",
        "aud",
        "exp",
        "iat",
        "reason_for_request",
        "requested_scope",
        "requesting_device",
        "requesting_organization",
        "requesting_practitioner",
    ]
    assert (claims["iat"], claims["exp"]) == (NOW, NOW + 300)
    assert claims["reason_for_request"] == "directcare"
    assert claims["requesting_device"]["resourceType"] == "Device"
    assert set(claims["requesting_device"]) == {"resourceType", "identifier", "model", "version"}
    assert claims["requesting_device"]["version"] == package_version("uec-gateway")
    org = claims["requesting_organization"]
    assert org == {
        "resourceType": "Organization",
        "identifier": [
            {"system": "https://fhir.nhs.uk/Id/ods-organization-code", "value": "A1001"}
        ],
        "name": "Demo 111 Service",
    }
    practitioner = claims["requesting_practitioner"]
    assert practitioner["resourceType"] == "Practitioner"
    assert practitioner["id"] == claims["sub"] == "10019"
    assert [i["system"] for i in practitioner["identifier"]][:2] == [
        "https://fhir.nhs.uk/Id/sds-user-id",
        "https://fhir.nhs.uk/Id/sds-role-profile-id",
    ]
    assert set(practitioner["name"][0]) == {"family", "given"}


def test_hs256_token_is_signed_with_kid() -> None:
    """HS256 with a key gives a three-part token whose header carries the kid."""
    token = mint_token(
        scope=APPT_WRITE, audience=AUDIENCE, now=NOW, algorithm="HS256", key="k" * 32, kid="k1"
    )
    assert token.split(".")[2]
    assert _part(token, 0) == {"alg": "HS256", "typ": "JWT", "kid": "k1"}


def test_unknown_scope_is_refused() -> None:
    """A mistyped scope is caught when minting, not at the gateway."""
    with pytest.raises(ValueError, match="unknown scope"):
        build_payload(scope="patient/appointment.writ", audience=AUDIENCE)


@pytest.mark.parametrize(("algorithm", "key"), [("none", "secret"), ("HS256", None)])
def test_key_and_algorithm_must_agree(algorithm: str, key: str | None) -> None:
    """alg 'none' takes no key and a signed algorithm needs one."""
    with pytest.raises(ValueError):
        encode_token(
            build_payload(scope=APPT_WRITE, audience=AUDIENCE), algorithm=algorithm, key=key
        )
