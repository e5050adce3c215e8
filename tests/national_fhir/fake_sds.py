"""An in-memory Spine Directory Service answering the two fs_workflow.md LDAP queries.

It stands in for the LDAP server behind the adapter's pluggable ``SdsTransport``
seam (no LDAP library is installed): ``nhsAS`` objects by ASID, ``nhsMHS``
objects by party key and interaction. It records every query it is asked.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from adapters.national_fhir import LdapQuery

_AS_BASE = re.compile(r"^uniqueIdentifier=([^,]+),ou=Services,o=nhs$")
_MHS_FILTER = re.compile(r"^\(&\(nhsMHSPartyKey=([^)]+)\)\(([^)]+)\)\)$")


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


async def create(options: dict[str, Any]) -> FakeSds:
    """The ``module:factory`` named in a configuration's ``sds.transport``."""
    return FakeSds(options.get("party_keys", {}), options.get("endpoints", {}))
