"""The consumer's JWT, fresh for every request (fs_authentication.md, "JWT Payload").

Without a national authorisation server the consumer generates an unsecured
token (``alg: none``, empty signature: ``header.payload.``) carrying iss, sub,
aud (the provider's service root), exp = iat + 300 s, iat, reason_for_request,
requested_scope (by operation), requesting_device, requesting_organization and,
when a user is known, requesting_practitioner.

Who is asking comes from the call context when the front door knows it (the
originating organisation, device and logged-on user) and otherwise from this
adapter's configuration. A practitioner is never configured: the standard says
it "SHALL NOT be populated with fixed values or a generic system user".
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

import jwt

from adapters.domain import CallContext, RequestingPractitioner
from adapters.national_fhir._options import DeviceOption, OrganisationOption

ODS_SYSTEM = "https://fhir.nhs.uk/Id/ods-organization-code"
SDS_USER_SYSTEM = "https://fhir.nhs.uk/Id/sds-user-id"
SDS_ROLE_SYSTEM = "https://fhir.nhs.uk/Id/sds-role-profile-id"
#: fs_authentication.md exp: "5 minutes after the token creation time".
LIFETIME_S = 300


class Scope(enum.StrEnum):
    """fs_authentication.md requested_scope table."""

    SLOT_READ = "organization/slot.read"
    APPOINTMENT_READ = "patient/appointment.read"
    APPOINTMENT_WRITE = "patient/appointment.write"


@dataclass(frozen=True, slots=True)
class TokenIssuer:
    issuer: str
    organisation: OrganisationOption
    device: DeviceOption

    def payload(
        self, *, audience: str, scope: Scope, ctx: CallContext | None, now: float
    ) -> dict[str, Any]:
        iat = int(now)
        practitioner = ctx.practitioner if ctx else None
        device = self._device(ctx)
        claims: dict[str, Any] = {
            "iss": self.issuer,
            # sub "matches requesting_practitioner.id"; with no user, the device asks.
            "sub": practitioner.id if practitioner else device["identifier"][0]["value"],
            "aud": audience,
            "exp": iat + LIFETIME_S,
            "iat": iat,
            "reason_for_request": "directcare",
            "requested_scope": scope.value,
            "requesting_device": device,
            "requesting_organization": self._organisation(ctx),
        }
        if practitioner is not None:
            claims["requesting_practitioner"] = _practitioner(practitioner)
        return claims

    def token(self, *, audience: str, scope: Scope, ctx: CallContext | None, now: float) -> str:
        claims = self.payload(audience=audience, scope=scope, ctx=ctx, now=now)
        # PyJWT spells "no key" for alg none as the empty string; the result ends in '.'.
        return jwt.encode(claims, "", algorithm="none")

    def _device(self, ctx: CallContext | None) -> dict[str, Any]:
        system, value = self.device.system, self.device.value
        model, version = self.device.model, self.device.version
        if ctx is not None and ctx.device is not None:
            system, value = ctx.device.identifier.system, ctx.device.identifier.value
            # fs_authentication.md: model and version SHALL be populated. A caller that
            # names only its identifier (a legacy system, a token without them) is
            # described by this system's configured product and version, never half of each.
            if ctx.device.model and ctx.device.version:
                model, version = ctx.device.model, ctx.device.version
        return {
            "resourceType": "Device",
            "identifier": [{"system": system, "value": value}],
            "model": model,
            "version": version,
        }

    def _organisation(self, ctx: CallContext | None) -> dict[str, Any]:
        # The organisation "from where the request originates, rather than the hosting
        # organisation" (fs_authentication.md): the caller's when known.
        ods, name = self.organisation.ods_code, self.organisation.name
        if ctx is not None and ctx.organisation is not None:
            ods = ctx.organisation.ods_code
            name = ctx.organisation.name or (name if ods == self.organisation.ods_code else "")
        org: dict[str, Any] = {
            "resourceType": "Organization",
            "identifier": [{"system": ODS_SYSTEM, "value": ods}],
        }
        if name:
            org["name"] = name
        return org


def _practitioner(user: RequestingPractitioner) -> dict[str, Any]:
    identifiers = [{"system": i.system, "value": i.value} for i in user.identifiers]
    systems = {i.system for i in user.identifiers}
    # fs_authentication.md: the SDS user and role profile ids are "UNK" when the user
    # is not logged on with an NHS smartcard; the local user id is always sent.
    for system in (SDS_ROLE_SYSTEM, SDS_USER_SYSTEM):
        if system not in systems:
            identifiers.insert(0, {"system": system, "value": "UNK"})
    return {"resourceType": "Practitioner", "id": user.id, "identifier": identifiers}
