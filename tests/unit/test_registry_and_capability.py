"""The adapter registry's hints and the CapabilityStatement generated from capabilities."""

from __future__ import annotations

import pytest
from fhir.resources.STU3.capabilitystatement import CapabilityStatement

from adapters.contract import Capability
from adapters.domain import utcnow
from adapters.registry import UnknownAdapter, resolve
from gateway.fhir.capability import capability_statement


def test_unknown_adapter_suggests_the_closest_name() -> None:
    """A misspelt adapter kind fails with 'did you mean' naming the registered one."""
    with pytest.raises(UnknownAdapter, match="did you mean 'embedded'"):
        resolve("embeded")


def test_unknown_adapter_without_a_close_match_lists_known() -> None:
    """A kind like nothing registered lists what is known instead."""
    with pytest.raises(UnknownAdapter, match="known: bars, embedded"):
        resolve("zzz")


def _statement(caps: frozenset[Capability]) -> dict[str, object]:
    body = capability_statement(
        [caps], service_root="https://gw.example/STU3/1/x", version="1", now=utcnow()
    )
    CapabilityStatement.model_validate(body)
    return body


def test_capabilities_follow_what_adapters_declare() -> None:
    """Without CANCEL there is no update interaction; without includes no searchInclude."""
    body = _statement(frozenset({Capability.SEARCH_SLOTS, Capability.BOOK, Capability.READ}))
    resources = {r["type"]: r for r in body["rest"][0]["resource"]}  # type: ignore[index]
    codes = {i["code"] for i in resources["Appointment"]["interaction"]}
    assert "create" in codes and "update" not in codes
    assert resources["Slot"]["searchInclude"] == []


def test_no_slot_search_means_no_slot_resource() -> None:
    """An adapter set that cannot search slots does not advertise Slot at all."""
    body = _statement(frozenset({Capability.READ}))
    types = [r["type"] for r in body["rest"][0]["resource"]]  # type: ignore[index]
    assert types == ["Appointment", "ReferralRequest"]
