"""Minting consumer JWTs exactly as fs_authentication.md specifies (CLI and tests).

A consumer without an authorisation server generates its own token: an
unsecured JWT (``alg: none``, empty signature, so ``header.payload.``) carrying
every claim of the "JWT payload full example". ``build_payload`` and
``encode_token`` are separate so tests can spoil one claim before encoding.
"""

from __future__ import annotations

import time
from typing import Any

import jwt

from gateway import release
from gateway.security._claims import ODS_SYSTEM
from gateway.security.interactions import Scope

DEFAULT_ISSUER = "https://uec-gateway-cli.invalid/"
DEVICE_SYSTEM = "https://uec-gateway-cli.invalid/Id/device-identifier"
USER_SYSTEM = "https://uec-gateway-cli.invalid/Id/user-id"
SDS_USER_SYSTEM = "https://fhir.nhs.uk/Id/sds-user-id"
SDS_ROLE_SYSTEM = "https://fhir.nhs.uk/Id/sds-role-profile-id"


def build_payload(
    *,
    scope: str,
    audience: str,
    organisation_ods: str = "A1001",
    organisation_name: str = "Demo 111 Service",
    device_id: str = "uec-gateway-cli",
    device_model: str = "uec-gateway token",
    device_version: str | None = None,
    practitioner_id: str | None = "10019",
    practitioner_family: str = "Clinician",
    practitioner_given: str = "Demo",
    lifetime_s: int = 300,
    now: float | None = None,
    issuer: str = DEFAULT_ISSUER,
) -> dict[str, Any]:
    """The claims of fs_authentication.md's full example, filled from the arguments.

    With ``practitioner_id=None`` the optional requesting_practitioner claim is
    left out and ``sub`` names the device instead. The device's ``version``
    (which fs_authentication.md says SHALL be sent) is this gateway's own unless given.
    """
    unknown = [s for s in scope.split() if s not in set(Scope)]
    if unknown or not scope.strip():
        allowed = ", ".join(Scope)
        raise ValueError(f"unknown scope {scope!r}; use one of {allowed}")
    iat = int(time.time() if now is None else now)
    payload: dict[str, Any] = {
        "iss": issuer,
        "sub": practitioner_id if practitioner_id is not None else device_id,
        "aud": audience,
        "exp": iat + lifetime_s,
        "iat": iat,
        "reason_for_request": "directcare",
        "requested_scope": scope,
        "requesting_device": {
            "resourceType": "Device",
            "identifier": [{"system": DEVICE_SYSTEM, "value": device_id}],
            "model": device_model,
            "version": device_version or release.version(),
        },
        "requesting_organization": {
            "resourceType": "Organization",
            "identifier": [{"system": ODS_SYSTEM, "value": organisation_ods}],
            "name": organisation_name,
        },
    }
    if practitioner_id is not None:
        payload["requesting_practitioner"] = {
            "resourceType": "Practitioner",
            "id": practitioner_id,
            # fs_authentication.md: "UNK" when the user has no NHS smartcard.
            "identifier": [
                {"system": SDS_USER_SYSTEM, "value": "UNK"},
                {"system": SDS_ROLE_SYSTEM, "value": "UNK"},
                {"system": USER_SYSTEM, "value": practitioner_id},
            ],
            "name": [{"family": practitioner_family, "given": [practitioner_given]}],
        }
    return payload


def encode_token(
    payload: dict[str, Any],
    *,
    algorithm: str = "none",
    key: str | None = None,
    kid: str | None = None,
) -> str:
    """Encode ``payload`` as a compact JWT; ``"none"`` gives ``header.payload.``.

    Signed algorithms take ``key``: the shared secret for HS256/384/512, or a
    PEM private key for RS*/PS*/ES* (useful in tests).
    """
    if algorithm == "none":
        if key is not None:
            raise ValueError("an unsigned (alg 'none') token takes no key")
    elif not key:
        raise ValueError(f"algorithm {algorithm} needs a key")
    headers = {"kid": kid} if kid is not None else None
    # PyJWT spells "no key" for alg none as the empty string.
    return jwt.encode(payload, key or "", algorithm=algorithm, headers=headers)


def mint_token(
    *,
    scope: str,
    audience: str,
    organisation_ods: str = "A1001",
    organisation_name: str = "Demo 111 Service",
    device_id: str = "uec-gateway-cli",
    practitioner_id: str | None = "10019",
    lifetime_s: int = 300,
    now: float | None = None,
    key: str | None = None,
    algorithm: str = "none",
    kid: str | None = None,
    issuer: str = DEFAULT_ISSUER,
) -> str:
    """A standard-conformant consumer JWT for ``scope`` and ``audience`` (the service root)."""
    payload = build_payload(
        scope=scope,
        audience=audience,
        organisation_ods=organisation_ods,
        organisation_name=organisation_name,
        device_id=device_id,
        practitioner_id=practitioner_id,
        lifetime_s=lifetime_s,
        now=now,
        issuer=issuer,
    )
    return encode_token(payload, algorithm=algorithm, key=key, kid=kid)
