"""The LDAP transport to the Spine Directory Service (fs_workflow.md's two steps)."""

from __future__ import annotations

import pytest

from adapters.national_fhir import DirectoryEntry, EndpointResolver
from adapters.national_fhir._sds import SdsError, party_key_query
from adapters.national_fhir.sds_ldap import SdsLdapConfigError, create
from tests.national_fhir.fake_sds import directory_server

CREATE = "urn:nhs:names:services:careconnect:fhir:rest:create:appointment"
READ = "urn:nhs:names:services:careconnect:fhir:rest:read:slot"


async def test_two_ldap_steps_find_the_root_per_interaction() -> None:
    """ASID -> party key -> nhsMHSEndPoint, and each interaction gets its own root."""
    sds = directory_server(
        {"200000000115": ["A12345-1234567"]},
        {
            f"A12345-1234567|{CREATE}": ["https://p.nhs.uk/STU3/1/careconnect/appointment"],
            f"A12345-1234567|{READ}": ["https://p.nhs.uk/STU3/1/careconnect/slot"],
        },
    )
    resolver = EndpointResolver(sds)
    entry = DirectoryEntry("918999198999", "200000000115", None, None)
    assert await resolver.root(entry, CREATE) == "https://p.nhs.uk/STU3/1/careconnect/appointment"
    assert await resolver.root(entry, READ) == "https://p.nhs.uk/STU3/1/careconnect/slot"
    await resolver.close()


async def test_unknown_asid_and_hostile_party_key_find_nothing() -> None:
    """An unknown ASID is an SDS error naming step 1; a filter-breaking key widens nothing."""
    sds = directory_server({"1": ["K*"]}, {f"K-real|{CREATE}": ["https://x.nhs.uk/r"]})
    resolver = EndpointResolver(sds)
    with pytest.raises(SdsError, match="step 1"):
        await resolver.root(DirectoryEntry("s", "404", None, None), CREATE)
    with pytest.raises(SdsError, match="step 2"):
        await resolver.root(DirectoryEntry("s", "1", None, None), CREATE)
    await resolver.close()


async def test_transport_options_are_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    """A non-LDAP URL, or a bind password variable that is not set, is refused clearly."""
    with pytest.raises(SdsLdapConfigError, match="url"):
        await create({"url": "https://sds"})
    monkeypatch.delenv("SDS_TEST_PASSWORD", raising=False)
    with pytest.raises(SdsLdapConfigError, match="SDS_TEST_PASSWORD"):
        await create({"url": "ldap://sds", "bind_dn": "cn=x", "password_env": "SDS_TEST_PASSWORD"})
    transport = await create({"url": "ldap://127.0.0.1:9"})
    with pytest.raises(SdsError, match="SDS"):
        await transport.search(party_key_query("1"))
