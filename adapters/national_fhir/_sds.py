"""Endpoint discovery in the Spine Directory Service (fs_workflow.md, fs_sds.md).

Two LDAP steps, exactly as the standard documents them:

1. ``ldapsearch -b uniqueIdentifier=<ASID>,ou=Services,o=nhs nhsMHSPartyKey``
   -> the nhsAS object's ``nhsMHSPartyKey``;
2. ``ldapsearch -b ou=Services,o=nhs "(&(nhsMHSPartyKey=<key>)(nhsMhsSvcIA=<interaction>))"
   nhsMHSEndPoint`` -> the nhsMHS object's ``nhsMHSEndPoint`` (the service root).

fs_workflow.md prints step 2's second term as a bare ``(<interaction>)``, which
is not a valid RFC 4515 filter; SDS holds the interaction in ``nhsMhsSvcIA``,
so that is the attribute asked (docs/spec-choices.md). The queries are built
and their results parsed here; the wire is a small pluggable ``SdsTransport``,
with an LDAP one in ``sds_ldap`` (ldap3).
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from adapters.national_fhir._directory import DirectoryEntry, check_root

SERVICES_BASE = "ou=Services,o=nhs"
PARTY_KEY = "nhsMHSPartyKey"
SERVICE_INTERACTION = "nhsMhsSvcIA"
END_POINT = "nhsMHSEndPoint"

#: One LDAP entry: attribute name -> values (names compared case-insensitively).
LdapEntry = Mapping[str, Sequence[str]]


class SdsError(Exception):
    """SDS gave no usable answer; the message says which step (no patient data here)."""


@dataclass(frozen=True, slots=True)
class LdapQuery:
    base: str
    #: "base" (the object named by ``base`` only) or "sub" (the subtree below it).
    scope: str
    filter: str
    attributes: tuple[str, ...]

    def as_ldapsearch(self) -> str:
        """The query as the ``ldapsearch`` line fs_workflow.md prints."""
        wanted = " ".join(self.attributes)
        if self.scope == "base":
            return f"ldapsearch -b {self.base} {wanted}"
        return f'ldapsearch -b {self.base} "{self.filter}" {wanted}'


class SdsTransport(Protocol):
    """The LDAP wire: run one search, return the matching entries."""

    async def search(self, query: LdapQuery) -> Sequence[LdapEntry]: ...

    async def close(self) -> None: ...


def _escape_filter(value: str) -> str:
    # RFC 4515 section 3: these characters are escaped as \XX in a filter value.
    return "".join(f"\\{ord(c):02x}" if c in "*()\\\x00" else c for c in value)


def _escape_dn(value: str) -> str:
    # RFC 4514 section 2.4: special characters in an attribute value of a DN.
    escaped = "".join(f"\\{c}" if c in ',+"\\<>;=' else c for c in value)
    if escaped.startswith(("#", " ")):
        escaped = "\\" + escaped
    return escaped[:-1] + "\\ " if escaped.endswith(" ") else escaped


def party_key_query(asid: str) -> LdapQuery:
    """fs_workflow.md step 1: the nhsAS object of ``asid``, for its nhsMHSPartyKey."""
    return LdapQuery(
        base=f"uniqueIdentifier={_escape_dn(asid)},{SERVICES_BASE}",
        scope="base",
        filter="(objectClass=*)",
        attributes=(PARTY_KEY,),
    )


def endpoint_query(party_key: str, interaction: str) -> LdapQuery:
    """fs_workflow.md step 2: the nhsMHS object of ``party_key`` for ``interaction``."""
    return LdapQuery(
        base=SERVICES_BASE,
        scope="sub",
        filter=(
            f"(&({PARTY_KEY}={_escape_filter(party_key)})"
            f"({SERVICE_INTERACTION}={_escape_filter(interaction)}))"
        ),
        attributes=(END_POINT,),
    )


def _values(entries: Sequence[LdapEntry], attribute: str) -> list[str]:
    wanted = attribute.lower()
    found: list[str] = []
    for entry in entries:
        for name, values in entry.items():
            if name.lower() == wanted:
                found.extend(str(v).strip() for v in values if str(v).strip())
    return list(dict.fromkeys(found))


def _single(entries: Sequence[LdapEntry], attribute: str, step: str) -> str:
    values = _values(entries, attribute)
    if not values:
        raise SdsError(f"SDS {step}: no {attribute} returned")
    if len(values) > 1:
        raise SdsError(f"SDS {step}: {len(values)} different {attribute} values returned")
    return values[0]


def parse_party_key(entries: Sequence[LdapEntry]) -> str:
    return _single(entries, PARTY_KEY, "step 1 (nhsAS)")


def parse_endpoint(entries: Sequence[LdapEntry]) -> str:
    # implementation_api.md: the root has no trailing '/'; one copied with it is forgiven.
    value = _single(entries, END_POINT, "step 2 (nhsMHS)").rstrip("/")
    try:
        return check_root(value)
    except ValueError as exc:
        raise SdsError(f"SDS step 2 (nhsMHS): {END_POINT} {exc}") from None


class EndpointResolver:
    """Service root per directory entry and interaction: the table first, then SDS (cached)."""

    def __init__(
        self,
        sds: SdsTransport | None,
        *,
        cache_s: float = 3600.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._sds = sds
        self._cache_s = cache_s
        self._clock = clock
        self._cache: dict[tuple[str, str], tuple[float, str]] = {}

    async def root(self, entry: DirectoryEntry, interaction: str) -> str:
        if entry.service_root is not None:
            return entry.service_root
        if self._sds is None:
            raise SdsError(f"ASID {entry.asid}: no service_root and no SDS lookup configured")
        key = (entry.asid, interaction)
        cached = self._cache.get(key)
        if cached is not None and cached[0] > self._clock():
            return cached[1]
        party_key = parse_party_key(await self._sds.search(party_key_query(entry.asid)))
        found = parse_endpoint(await self._sds.search(endpoint_query(party_key, interaction)))
        self._cache[key] = (self._clock() + self._cache_s, found)
        return found

    async def close(self) -> None:
        if self._sds is not None:
            await self._sds.close()


async def load_transport(target: str, options: Mapping[str, Any]) -> SdsTransport:
    """Build the transport named ``module:factory`` (awaited) with ``options``."""
    module_name, _, attr = target.partition(":")
    factory = getattr(importlib.import_module(module_name), attr)
    transport: SdsTransport = await factory(dict(options))
    return transport
