"""The ``registry:`` section: check-config's messages, its absence, and the pointer it implies."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.domain import BookingStatus
from gateway.registry.peer import RegistryPeer
from gateway.registry.pointer import PointerSite, pointer_for
from tests.integration.cli import demo_copy, run
from tests.registry.conftest import Start
from tests.store.contract import make_version

GOOD = """
registry:
  url: http://127.0.0.1:9099/FHIR/R4
  custodian_ods: RX1
"""


def _demo_with(folder: Path, section: str) -> Path:
    demo_copy(folder)
    config = folder / "config" / "demo.yaml"
    config.write_text(config.read_text(encoding="utf-8") + section, encoding="utf-8")
    return config


async def test_a_valid_registry_section_passes_check_config(tmp_path: Path) -> None:
    """The demo with a registry section is OK; without one it is OK too (no pointers)."""
    done = await run("check-config", str(_demo_with(tmp_path / "with", GOOD)))
    assert done.code == 0, done.err
    done = await run("check-config", str(_demo_with(tmp_path / "without", "")))
    assert done.code == 0, done.err


async def test_every_registry_problem_is_reported_with_its_position(tmp_path: Path) -> None:
    """A bad URL, a bad ODS code and retry delays out of order are each reported, the URL at
    its own line."""
    section = """
registry:
  url: ftp://registry.example/
  custodian_ods: "not an ods"
  token_env: UEC_TEST_REGISTRY_TOKEN_UNSET
  retry: {first_delay_s: 10, max_delay_s: 1}
"""
    config = _demo_with(tmp_path, section)
    done = await run("check-config", str(config))
    assert done.code == 1
    text = done.err
    assert "registry.url: Value error, url must be an absolute http(s) URL" in text
    assert "registry.custodian_ods: Value error, 'not an ods' is not an ODS code" in text
    assert "registry.retry: Value error, max_delay_s must not be below first_delay_s" in text
    assert "environment variable UEC_TEST_REGISTRY_TOKEN_UNSET is not set" not in text, (
        "an invalid section is left out, so its token is not looked for"
    )
    lines = config.read_text(encoding="utf-8").splitlines()
    url_line = next(n for n, line in enumerate(lines, 1) if line.startswith("  url: ftp"))
    assert f"{config}:{url_line}:" in text, "the url's own line is named"


async def test_a_registry_that_is_this_gateway_is_refused(tmp_path: Path) -> None:
    """registry.url naming the gateway's own host and port is a problem, said plainly."""
    config = _demo_with(
        tmp_path, "\nregistry:\n  url: http://127.0.0.1:8080/FHIR/R4\n  custodian_ods: RX1\n"
    )
    done = await run("check-config", str(config))
    assert done.code == 1
    assert "registry.url http://127.0.0.1:8080/FHIR/R4 is this gateway" in done.err


async def test_a_lease_shorter_than_its_calls_is_refused(tmp_path: Path) -> None:
    """A lease that cannot cover one delivery's calls is reported with the rule it breaks."""
    config = _demo_with(tmp_path, GOOD + "  request_timeout_s: 10\n  lease_s: 20\n")
    done = await run("check-config", str(config))
    assert done.code == 1
    assert "lease_s must be at least 5 x request_timeout_s" in done.err


async def test_an_unset_token_variable_is_named(tmp_path: Path) -> None:
    """token_env naming an unset variable is reported at its line."""
    config = _demo_with(tmp_path, GOOD + "  token_env: UEC_TEST_REGISTRY_TOKEN_UNSET\n")
    done = await run("check-config", str(config))
    assert done.code == 1
    assert "environment variable UEC_TEST_REGISTRY_TOKEN_UNSET is not set" in done.err


def test_only_booked_appointments_of_known_patients_have_pointers() -> None:
    """Cancelled, entered-in-error and NHS-number-less versions imply no pointer."""
    site = PointerSite("RX1", "https://gw.example/bars/FHIR/R4")
    assert pointer_for(make_version(), site) is not None
    assert pointer_for(make_version(status=BookingStatus.CANCELLED), site) is None
    assert pointer_for(make_version(status=BookingStatus.ENTERED_IN_ERROR), site) is None
    assert pointer_for(make_version(nhs_number=None), site) is None


def test_a_pointers_content_changes_with_its_period_only() -> None:
    """Same slot, same hash (no PUT); a moved slot changes the hash; the subject hash stays."""
    site = PointerSite("RX1", "https://gw.example/bars/FHIR/R4")
    first = pointer_for(make_version(description="a"), site)
    same = pointer_for(make_version(description="b"), site)
    moved = pointer_for(make_version(minutes=20), site)
    assert first is not None and same is not None and moved is not None
    assert first.content_hash == same.content_hash != moved.content_hash
    assert first.subject_hash == moved.subject_hash


async def test_a_reload_changing_the_registry_section_is_refused(
    gateway: Start, registry: RegistryPeer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The pointer worker is built at start-up: a reload changing registry: is 409, naming it."""
    monkeypatch.setenv("UEC_TEST_ADMIN_TOKEN", "let-me-reload")
    running = await gateway(registry.url, admin_token_env="UEC_TEST_ADMIN_TOKEN")
    config = tmp_path / "gateway.yaml"
    config.write_text(config.read_text().replace("concurrency: 2", "concurrency: 3"))
    resp = await running.client.post(
        "/admin/reload", headers={"Authorization": "Bearer let-me-reload"}
    )
    assert resp.status == 409
    assert "registry" in str((await resp.json())["reason"])
