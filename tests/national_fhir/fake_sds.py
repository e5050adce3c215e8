"""An in-memory Spine Directory Service answering the two fs_workflow.md LDAP queries.

``FakeSds`` stands in for the whole transport and records every query (for the
resolver's own tests); ``directory_server`` runs the real LDAP transport
(``adapters.national_fhir.sds_ldap``) against ldap3's offline directory.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import ldap3

from adapters.national_fhir import LdapQuery
from adapters.national_fhir.sds_ldap import LdapSds

_AS_BASE = re.compile(r"^uniqueIdentifier=([^,]+),ou=Services,o=nhs$")
_MHS_FILTER = re.compile(r"^\(&\(nhsMHSPartyKey=([^)]+)\)\(nhsMhsSvcIA=([^)]+)\)\)$")


class FakeSds:
    def __init__(
        self, party_keys: Mapping[str, Sequence[str]], endpoints: Mapping[str, Sequence[str]]
    ) -> None:
        #: ASID -> nhsMHSPartyKey values; "party key|interaction" -> nhsMHSEndPoint values.
        self.party_keys = party_keys
        self.endpoints = endpoints
        self.queries: list[LdapQuery] = []
        self.closed = False

    async def search(self, query: LdapQuery) -> Sequence[Mapping[str, Sequence[str]]]:
        self.queries.append(query)
        found = _AS_BASE.match(query.base)
        if query.scope == "base" and found:
            keys = self.party_keys.get(found.group(1), ())
            return [{"nhsMHSPartyKey": list(keys)}] if keys else []
        match = _MHS_FILTER.match(query.filter)
        if query.base == "ou=Services,o=nhs" and match:
            roots = self.endpoints.get(f"{match.group(1)}|{match.group(2)}", ())
            return [{"nhsmhsendpoint": [root]} for root in roots]
        return []

    async def close(self) -> None:
        self.closed = True


def directory_server(
    party_keys: Mapping[str, Sequence[str]], endpoints: Mapping[str, Sequence[str]]
) -> LdapSds:
    """The real LDAP transport over ldap3's offline in-memory directory (MOCK_SYNC).

    Entries are shaped as in SDS: an ``nhsAS`` per ASID holding its party keys,
    an ``nhsMHS`` per party key and interaction (``nhsMhsSvcIA``) with its end point.
    """
    conn = ldap3.Connection(ldap3.Server("sds.test"), client_strategy=ldap3.MOCK_SYNC)
    for asid, keys in party_keys.items():
        conn.strategy.add_entry(
            f"uniqueIdentifier={asid},ou=Services,o=nhs",
            {"objectClass": ["nhsAS"], "nhsMHSPartyKey": list(keys)},
        )
    for n, (key_and_interaction, roots) in enumerate(endpoints.items()):
        key, _, interaction = key_and_interaction.partition("|")
        conn.strategy.add_entry(
            f"uniqueIdentifier=mhs{n},ou=Services,o=nhs",
            {
                "objectClass": ["nhsMHS"],
                "nhsMHSPartyKey": [key],
                "nhsMhsSvcIA": [interaction],
                "nhsMHSEndPoint": list(roots),
            },
        )
    return LdapSds(conn)


async def create(options: dict[str, Any]) -> LdapSds:
    """A transport factory for ``sds.transport``: the LDAP transport over that directory."""
    return directory_server(options.get("party_keys", {}), options.get("endpoints", {}))
