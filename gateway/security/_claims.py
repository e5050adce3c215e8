"""Validating a decoded JWT payload against fs_authentication.md ("JWT Payload")."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from functools import lru_cache
from typing import Annotated, Any, Literal

import orjson
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictInt, ValidationError
from pydantic import StringConstraints as Str

from adapters.domain import (
    HumanName,
    Identifier,
    RequestingDevice,
    RequestingOrganisation,
    RequestingPractitioner,
)
from gateway.config import JwtSettings
from gateway.security._text import shown
from gateway.security.interactions import Interaction, permits, scopes_permitting

ODS_SYSTEM = "https://fhir.nhs.uk/Id/ods-organization-code"
REQUIRED_CLAIMS = (
    "iss",
    "sub",
    "aud",
    "exp",
    "iat",
    "reason_for_request",
    "requested_scope",
    "requesting_device",
    "requesting_organization",
)

_Text = Annotated[str, Str(strict=True, min_length=1)]


class InvalidClaim(Exception):
    """A claim failed validation; ``needed_scope`` is set when the scope was too narrow."""

    def __init__(self, message: str, needed_scope: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.needed_scope = needed_scope


@dataclass(frozen=True, slots=True)
class Claims:
    """A verified token: who is asking (organisation, device, user) and for what."""

    iss: str
    sub: str
    #: The audience that matched this service.
    aud: str
    exp: int
    iat: int
    reason_for_request: str
    requested_scope: str
    organisation: RequestingOrganisation
    device: RequestingDevice
    practitioner: RequestingPractitioner | None
    #: The JWS alg the token carried ("none" for an unsigned token).
    algorithm: str


def _audiences(value: Any) -> Any:
    # RFC 7519 section 4.1.3: aud is one string or an array of strings.
    return (value,) if isinstance(value, str) else value


class _Claim(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)


class _Identifier(_Claim):
    system: _Text
    value: _Text


class _Device(_Claim):
    resource_type: Literal["Device"] | None = Field(None, alias="resourceType")
    identifier: tuple[_Identifier, ...] = ()
    model: Annotated[str, Str(strict=True)] | None = None
    version: Annotated[str, Str(strict=True)] | None = None


class _Organization(_Claim):
    resource_type: Literal["Organization"] | None = Field(None, alias="resourceType")
    identifier: tuple[_Identifier, ...] = ()
    name: Annotated[str, Str(strict=True)] | None = None


class _Practitioner(_Claim):
    resource_type: Literal["Practitioner"] | None = Field(None, alias="resourceType")
    id: _Text
    identifier: tuple[_Identifier, ...] = ()
    # Read leniently (_human_name): it is kept for audit, never used to decide anything.
    name: Any = None


class _Payload(_Claim):
    iss: _Text
    sub: _Text
    aud: Annotated[tuple[_Text, ...], BeforeValidator(_audiences)]
    exp: StrictInt
    iat: StrictInt
    #: RFC 7519 section 4.1.5, optional; a NumericDate like exp and iat (an integer here).
    nbf: StrictInt | None = None
    reason_for_request: Annotated[str, Str(strict=True)]
    requested_scope: Annotated[str, Str(strict=True)]
    requesting_device: _Device
    requesting_organization: _Organization
    requesting_practitioner: _Practitioner | None = None


def check_claims(
    payload: dict[str, Any],
    *,
    interaction: Interaction,
    settings: JwtSettings,
    audiences: Collection[str],
    now: float,
    algorithm: str,
) -> Claims:
    """Check each claim fs_authentication.md requires; raise ``InvalidClaim`` on a failure."""
    claims = _parse(payload)
    _check_times(claims.exp, claims.iat, settings, now)
    _check_not_before(claims.nbf, settings, now)
    aud = _matching_audience(claims.aud, audiences)
    if claims.reason_for_request != "directcare":
        # fs_authentication.md: NHS Booking supports direct care only.
        raise InvalidClaim(
            f"reason_for_request is {shown(claims.reason_for_request)}; it must be 'directcare'"
        )
    if not permits(claims.requested_scope, interaction):
        needed = " or ".join(scopes_permitting(interaction))
        raise InvalidClaim(
            f"requested_scope {shown(claims.requested_scope)} does not permit the "
            f"interaction to {interaction.label}; it needs {needed}",
            needed_scope=interaction.scope.value,
        )
    return Claims(
        iss=claims.iss,
        sub=claims.sub,
        aud=aud,
        exp=claims.exp,
        iat=claims.iat,
        reason_for_request=claims.reason_for_request,
        requested_scope=claims.requested_scope,
        organisation=_organisation(claims.requesting_organization),
        device=_device(claims.requesting_device),
        practitioner=_practitioner(claims.requesting_practitioner, claims.sub),
        algorithm=algorithm,
    )


def _parse(payload: dict[str, Any]) -> _Payload:
    missing = [name for name in REQUIRED_CLAIMS if payload.get(name) is None]
    if missing:
        raise InvalidClaim(f"JWT is missing required claim(s): {', '.join(missing)}")
    try:
        return _Payload.model_validate(payload)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in err["loc"])
        # err["msg"] describes the expected type and never echoes the input; the
        # object case is reworded so our private model names do not leak.
        msg = "Input should be a JSON object" if err["type"] == "model_type" else err["msg"]
        raise InvalidClaim(f"JWT claim {where.lstrip('.')} is invalid: {msg}") from None


def _check_times(exp: int, iat: int, settings: JwtSettings, now: float) -> None:
    skew = settings.clock_skew_s
    # fs_authentication.md: exp is the time "on and after which the JWT SHALL NOT be accepted".
    if now >= exp + skew:
        raise InvalidClaim(
            f"JWT has expired: exp is {now - exp:.0f}s in the past (clock skew allowance {skew}s)"
        )
    if iat > now + skew:
        raise InvalidClaim(
            f"JWT iat is {iat - now:.0f}s in the future (clock skew allowance {skew}s)"
        )
    if exp <= iat:
        raise InvalidClaim("JWT exp must be later than iat")
    if exp - iat > settings.max_lifetime_s:
        # fs_authentication.md: exp SHALL be 5 minutes after iat.
        raise InvalidClaim(
            f"JWT lifetime (exp - iat) is {exp - iat}s; at most "
            f"{settings.max_lifetime_s}s is accepted"
        )


def _check_not_before(nbf: int | None, settings: JwtSettings, now: float) -> None:
    # RFC 7519 section 4.1.5: the JWT "MUST NOT be accepted for processing" before nbf,
    # with "some small leeway" for clock skew (the same allowance as iat).
    skew = settings.clock_skew_s
    if nbf is not None and nbf > now + skew:
        raise InvalidClaim(
            f"JWT nbf is {nbf - now:.0f}s in the future: not valid yet "
            f"(clock skew allowance {skew}s)"
        )


def _without_one_slash(url: str) -> str:
    return url[:-1] if url.endswith("/") else url


def _matching_audience(claimed: tuple[str, ...], audiences: Collection[str]) -> str:
    # aud must be the service root exactly (fs_authentication.md). One trailing '/' is
    # forgiven: the service root never has one (implementation_api.md), but consumers
    # copying it from SDS sometimes add one. '//' or more is another URL, never ours.
    accepted = {_without_one_slash(a) for a in audiences}
    for aud in claimed:
        if not aud.endswith("//") and _without_one_slash(aud) in accepted:
            return aud
    expected = ", ".join(sorted(audiences)) or "(none configured)"
    got = ", ".join(shown(a) for a in claimed) or "nothing"
    raise InvalidClaim(f"aud is {got}; it must be this service's root URL: {expected}")


@lru_cache(maxsize=1024)
def _organisation(org: _Organization) -> RequestingOrganisation:
    for ident in org.identifier:
        if ident.system == ODS_SYSTEM:
            return RequestingOrganisation(ods_code=ident.value, name=org.name)
    raise InvalidClaim(f"requesting_organization has no identifier with system {ODS_SYSTEM}")


@lru_cache(maxsize=1024)
def _device(device: _Device) -> RequestingDevice:
    if not device.identifier:
        raise InvalidClaim("requesting_device has no identifier")
    first = device.identifier[0]
    return RequestingDevice(
        identifier=Identifier(system=first.system, value=first.value),
        model=device.model,
        version=device.version,
    )


def _practitioner(practitioner: _Practitioner | None, sub: str) -> RequestingPractitioner | None:
    # fs_authentication.md: requesting_practitioner is optional; when present its id
    # "SHALL match the value of the sub claim".
    if practitioner is None:
        return None
    try:
        name = orjson.dumps(practitioner.name, option=orjson.OPT_SORT_KEYS)
    except TypeError:  # not JSON orjson writes (an integer beyond 64 bits): not kept
        return _read_practitioner(practitioner, sub)
    key = (practitioner.id, practitioner.identifier, name, sub)
    found = _PRACTITIONERS.get(key)
    if found is None:
        if len(_PRACTITIONERS) >= _KEPT_MAX:
            _PRACTITIONERS.clear()
        found = _PRACTITIONERS[key] = _read_practitioner(practitioner, sub)
    return found


#: The same consumer system sends the same identity claims in every token: what they
#: read as is kept (the values are immutable), so only new ones are built.
_PRACTITIONERS: dict[tuple[Any, ...], RequestingPractitioner] = {}
_KEPT_MAX = 1024


def _read_practitioner(practitioner: _Practitioner, sub: str) -> RequestingPractitioner:
    if practitioner.id != sub:
        raise InvalidClaim("requesting_practitioner.id does not match the sub claim")
    return RequestingPractitioner(
        id=practitioner.id,
        identifiers=tuple(
            Identifier(system=i.system, value=i.value) for i in practitioner.identifier
        ),
        name=_human_name(practitioner.name),
    )


def _texts(value: Any) -> tuple[str, ...]:
    items = value if isinstance(value, list) else [value]
    return tuple(v.strip() for v in items if isinstance(v, str) and v.strip())


def _human_name(raw: Any) -> HumanName | None:
    """The first name of the claim's Practitioner; None if it gives none that can be read.

    fs_authentication.md asks for name.family, given and prefix; consumers vary, so a
    name that is malformed is left out of the audit rather than refusing the call.
    """
    first = raw[0] if isinstance(raw, list) and raw else raw
    if not isinstance(first, dict):
        return None
    family = _texts(first.get("family"))
    name = HumanName(
        family=family[0] if family else None,
        given=_texts(first.get("given")),
        prefix=_texts(first.get("prefix")),
    )
    return name if name.family or name.given else None
