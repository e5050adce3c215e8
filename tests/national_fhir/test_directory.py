"""Endpoint discovery: the directory table and the two-step SDS lookup (fs_workflow.md)."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest

from adapters.domain import BookingStatus, SlotQuery, utcnow
from adapters.errors import MappingError
from adapters.national_fhir import (
    DirectoryError,
    NationalFhirAdapter,
    NationalFhirConfigError,
    create,
    endpoint_query,
    load_directory,
    party_key_query,
)
from adapters.national_fhir._directory import DirectoryEntry
from adapters.national_fhir._sds import EndpointResolver, SdsError
from adapters.registry import resolve
from tests.contract.builders import booking_request, call_context
from tests.national_fhir.conftest import PROVIDER_ASID, SERVICE_ID, Rig, adapter_options
from tests.national_fhir.fake_sds import FakeSds

CREATE = "urn:nhs:names:services:careconnect:fhir:rest:create:appointment"
SLOT = "urn:nhs:names:services:careconnect:fhir:rest:read:slot"
HEADER = "service_id,asid,service_root,name\n"


def _table(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "directory.csv"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_shipped_example_table_loads() -> None:
    """mappings/national_fhir/directory.csv is valid."""
    root = Path(__file__).resolve().parents[2]
    table = load_directory(root / "mappings" / "national_fhir" / "directory.csv")
    assert all(entry.asid.isdigit() for entry in table.values())


def test_table_rows_become_entries(tmp_path: Path) -> None:
    """Each row maps a service id to its ASID, root (or SDS) and name; blank lines are skipped."""
    path = _table(
        tmp_path,
        HEADER + "1,200000000115,https://p.nhs.uk/STU3/1/careconnect/appointment,UTC\n\n2,42,,\n",
    )
    table = load_directory(path)
    assert table["1"] == DirectoryEntry(
        "1", "200000000115", "https://p.nhs.uk/STU3/1/careconnect/appointment", "UTC"
    )
    assert table["2"] == DirectoryEntry("2", "42", None, None)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("service_id,asid,colour\n1,2,red\n", "line 1: unknown column(s) colour"),
        ("service_id,name\n1,x\n", "line 1: missing column(s) asid"),
        (HEADER + "1,2,,\n1,3,,\n", "line 3: column service_id: '1' listed twice"),
        (HEADER + "1,ASID-2,,\n", "line 2: column asid"),
        (HEADER + "1,2,https://p.nhs.uk/STU3/1/,\n", "line 2: column service_root: must not end"),
        (HEADER + "1,2,ftp://p.nhs.uk/x,\n", "line 2: column service_root: must be an absolute"),
        (HEADER + ",2,,\n", "line 2: column service_id: a value is required"),
        (HEADER + "1,2,,x,extra\n", "line 2: more values than columns"),
        (HEADER, "no services listed"),
    ],
)
def test_table_errors_name_the_row(tmp_path: Path, text: str, message: str) -> None:
    """A bad table is refused with the file, line and column at fault."""
    with pytest.raises(DirectoryError, match=re.escape(message)):
        load_directory(_table(tmp_path, text))


def test_missing_table_is_an_error(tmp_path: Path) -> None:
    """A directory file that does not exist is named in the error."""
    with pytest.raises(DirectoryError, match="file not found"):
        load_directory(tmp_path / "nope.csv")


async def test_rows_without_root_need_an_sds_lookup(tmp_path: Path) -> None:
    """create() refuses a table that leaves roots to SDS when no SDS transport is configured."""
    path = _table(tmp_path, HEADER + "1,200000000115,,\n")
    with pytest.raises(NationalFhirConfigError, match="no 'sds' lookup"):
        await create("n", adapter_options("http://127.0.0.1:1", path), tmp_path)


async def test_bad_options_name_the_option(tmp_path: Path) -> None:
    """Invalid options are refused with the option's name."""
    options = adapter_options("not a url", tmp_path / "d.csv", asid="x1")
    with pytest.raises(NationalFhirConfigError, match="ssp_url") as caught:
        await create("n", options, tmp_path)
    assert "asid" in str(caught.value)


def test_registry_resolves_the_alias() -> None:
    """The configuration name 'national-fhir' reaches this package's create()."""
    assert resolve("national-fhir") is create


def test_the_two_ldap_queries_are_the_documented_ones() -> None:
    """fs_workflow.md: step 1 reads nhsMHSPartyKey of the nhsAS; step 2 nhsMHSEndPoint."""
    step1 = party_key_query("123456789012")
    assert step1.as_ldapsearch() == (
        "ldapsearch -b uniqueIdentifier=123456789012,ou=Services,o=nhs nhsMHSPartyKey"
    )
    step2 = endpoint_query("A12345-1234567", CREATE)
    assert step2.as_ldapsearch() == (
        'ldapsearch -b ou=Services,o=nhs "(&(nhsMHSPartyKey=A12345-1234567)'
        f'(nhsMhsSvcIA={CREATE}))" nhsMHSEndPoint'
    )


def test_ldap_values_are_escaped() -> None:
    """RFC 4515/4514: a hostile party key or ASID cannot widen the query."""
    assert endpoint_query("A*)(x=1", CREATE).filter.startswith(
        "(&(nhsMHSPartyKey=A\\2a\\29\\28x=1)"
    )
    assert party_key_query("1,ou=x").base == "uniqueIdentifier=1\\,ou\\=x,ou=Services,o=nhs"


async def test_resolver_runs_both_steps_and_caches() -> None:
    """The root comes from step 2 with step 1's key; a second lookup asks nothing."""
    sds = FakeSds({"42": ["K-1"]}, {f"K-1|{CREATE}": ["https://p.nhs.uk/STU3/1/appt/"]})
    resolver = EndpointResolver(sds)
    entry = DirectoryEntry("1", "42", None, None)
    assert await resolver.root(entry, CREATE) == "https://p.nhs.uk/STU3/1/appt"
    assert await resolver.root(entry, CREATE) == "https://p.nhs.uk/STU3/1/appt"
    assert [q.attributes for q in sds.queries] == [("nhsMHSPartyKey",), ("nhsMHSEndPoint",)]
    await resolver.close()
    assert sds.closed


@pytest.mark.parametrize(
    ("party_keys", "endpoints", "message"),
    [
        ({}, {}, "step 1 .* no nhsMHSPartyKey"),
        ({"42": ["K-1", "K-2"]}, {}, "step 1 .* 2 different"),
        ({"42": ["K-1"]}, {}, "step 2 .* no nhsMHSEndPoint"),
        ({"42": ["K-1"]}, {f"K-1|{CREATE}": ["https://a/x", "https://b/y"]}, "step 2 .* 2 diff"),
        ({"42": ["K-1"]}, {f"K-1|{CREATE}": ["mailto:x"]}, "step 2 .* must be an absolute"),
    ],
)
async def test_resolver_refuses_unusable_answers(
    party_keys: dict[str, list[str]], endpoints: dict[str, list[str]], message: str
) -> None:
    """er_overview.md: SDS may answer with no endpoint; that is an error naming the step."""
    resolver = EndpointResolver(FakeSds(party_keys, endpoints))
    with pytest.raises(SdsError, match=message):
        await resolver.root(DirectoryEntry("1", "42", None, None), CREATE)


async def test_adapter_discovers_the_provider_through_sds(rig: Rig) -> None:
    """A table row without root: SDS (via the configured transport) finds it, per interaction."""
    rig.directory.write_text(f"service_id,asid\n{SERVICE_ID},{PROVIDER_ASID}\n", encoding="utf-8")
    sds = {
        "transport": "tests.national_fhir.fake_sds:create",
        "options": {
            "party_keys": {PROVIDER_ASID: ["P-1"]},
            "endpoints": {f"P-1|{SLOT}": [rig.provider_root]},
        },
    }
    adapter = await rig.make_adapter(sds=sds)
    assert isinstance(adapter, NationalFhirAdapter)
    try:
        result = await adapter.search_slots(SlotQuery(service_id=SERVICE_ID), call_context())
        assert result.slots
    finally:
        await adapter.close()
    assert rig.ssp.seen[-1].target.startswith(rig.provider_root + "/Slot?")


async def test_after_a_restart_a_booking_at_a_shared_asid_is_read_and_cancelled(rig: Rig) -> None:
    """Two services behind one ASID (as the shipped table has): the stored service id
    tells a fresh adapter which one a booking belongs to; without it, it cannot tell."""
    other = "918999198888"
    rig.directory.write_text(
        HEADER
        + f"{SERVICE_ID},{PROVIDER_ASID},{rig.provider_root},UTC\n"
        + f"{other},{PROVIDER_ASID},{rig.provider_root},GP\n",
        encoding="utf-8",
    )
    first = await rig.make_adapter()
    query = SlotQuery(service_id=SERVICE_ID, start_from=utcnow() + timedelta(hours=1))
    slot = (await first.search_slots(query, call_context())).slots[0]
    booked = await first.book(booking_request(slot), call_context())
    await first.close()
    restarted = await rig.make_adapter()
    try:
        with pytest.raises(MappingError, match="cannot tell which national service"):
            await restarted.get(booked.supplier_ref, call_context())
        read = await restarted.get(booked.supplier_ref, call_context(), service_id=SERVICE_ID)
        assert read == booked
        cancelled = await restarted.cancel(
            booked.supplier_ref, call_context(), service_id=SERVICE_ID
        )
        assert cancelled.status is BookingStatus.CANCELLED and cancelled.service_id == SERVICE_ID
    finally:
        await restarted.close()
