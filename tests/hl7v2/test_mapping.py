"""Mapping tables: loaded and cross-checked, row-precise errors, no silent pass-through."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from adapters import errors
from adapters.domain import DeliveryChannel, Gender, SlotStatus
from adapters.hl7v2 import Hl7v2ConfigError, Hl7v2Options, load_mappings
from adapters.hl7v2.mapping import DataFileError
from gateway.config import load as load_config
from tests.hl7v2.helpers import DEMO_MAPPINGS, ROOT


@pytest.fixture
def tables(tmp_path: Path) -> Path:
    """An editable copy of the demo tables."""
    target = tmp_path / "tables"
    shutil.copytree(DEMO_MAPPINGS, target)
    return target


def test_demo_tables_load_and_map_both_ways() -> None:
    """The demo tables load; codes map in and out; unknown codes raise MappingError."""
    m = load_mappings(DEMO_MAPPINGS)
    assert m.schedule("UTCNP").schedule.service_id == "918999197777"
    assert m.channel("TEL") is DeliveryChannel.TELEPHONE and m.channel("WALKIN") is None
    assert m.gender("A") is Gender.OTHER and m.genders_out[Gender.OTHER] == "O"
    assert m.statuses_out[SlotStatus.FREE] == ("Open",)
    assert m.role("NURSE") == ("R0650", "Nurse Practitioner")
    assert m.identifier_for_system("http://gw/STU3/Id/local-patient-identifier").type_code == "PI"
    for lookup, code in (
        (m.schedule, "NOPE"),
        (m.channel, "X"),
        (m.gender, "Z"),
        (m.status, "Sleeping"),
        (m.role, "WIZARD"),
        (m.location, "MARS"),
    ):
        with pytest.raises(errors.MappingError):
            lookup(code)
    with pytest.raises(errors.MappingError):
        m.identifier("XX", "YY")
    with pytest.raises(errors.MappingError):
        m.identifier_for_system("https://example.org/unknown")


@pytest.mark.parametrize(
    ("table", "text", "message"),
    [
        (
            "schedules.csv",
            "id,service_id,pas_schedule\nx,999,ABC\n",
            "schedules.csv line 2: column service_id: unknown service '999'",
        ),
        (
            "staff_types.csv",
            "pas_staff_type,sds_role_code,sds_role_display\nGP,GP01,Doctor\n",
            "staff_types.csv line 2: column sds_role_code: 'GP01' is not an SDS job role code",
        ),
        (
            "genders.csv",
            "pas_code,gender,preferred\nM,male,y\nF,female,y\nO,other,y\n",
            "genders.csv: no preferred code for unknown",
        ),
        (
            "filler_statuses.csv",
            "pas_status,slot_status\nOpen,vacant\n",
            "filler_statuses.csv line 2: column slot_status: 'vacant' is not one of",
        ),
        (
            "appointment_types.csv",
            "pas_appointment_type,delivery_channel\nF2F,Pigeon\n",
            "appointment_types.csv line 2: column delivery_channel: 'Pigeon'",
        ),
        (
            "identifier_systems.csv",
            "assigning_authority,type_code,system,kind\nA,B,urn:x,maybe\n",
            "identifier_systems.csv line 2: column kind: 'maybe' is not one of",
        ),
        (
            "errors.csv",
            "ack_code,error\nAE,Oops\n",
            "errors.csv line 2: column error: 'Oops' is not one of",
        ),
        ("locations.csv", "pas_location,id,name,colour\n", "locations.csv line 1: unknown column"),
    ],
)
def test_a_bad_row_is_named_by_file_line_and_column(
    tables: Path, table: str, text: str, message: str
) -> None:
    """Each table's validation names the file, the line and the column at fault."""
    (tables / table).write_text(text, encoding="utf-8")
    with pytest.raises(DataFileError) as raised:
        load_mappings(tables)
    assert str(raised.value).startswith(message), str(raised.value)


def test_a_missing_table_is_an_error(tables: Path) -> None:
    """Every table must be present."""
    (tables / "genders.csv").unlink()
    with pytest.raises(DataFileError, match=r"genders\.csv: file not found"):
        load_mappings(tables)


def test_the_example_config_builds_the_adapter_options_and_tables() -> None:
    """config/example-hl7v2-pas.yaml loads with gateway.config and its hl7v2 options validate."""
    settings = load_config(ROOT / "config" / "example-hl7v2-pas.yaml")
    (item,) = settings.adapters
    assert item.kind == "hl7v2"
    options = Hl7v2Options.model_validate(item.options)
    assert options.tls.enabled and options.listen is not None and options.version == "2.5"
    assert options.time_budget_s < settings.server.request_timeout_s
    mappings = load_mappings(options.mappings_path(settings.base_dir))
    routed = {s.id for s in settings.services}
    assert routed <= set(mappings.services)


def test_the_demo_config_loads_and_routes_to_the_peer_tables() -> None:
    """config/demo-hl7v2.yaml loads; its adapter options and tables validate."""
    settings = load_config(ROOT / "config" / "demo-hl7v2.yaml")
    (item,) = settings.adapters
    options = Hl7v2Options.model_validate(item.options)
    assert options.listen is not None and options.port == 2575
    assert {s.id for s in settings.services} <= set(
        load_mappings(options.mappings_path(settings.base_dir)).services
    )


async def test_bad_options_name_the_option(tmp_path: Path) -> None:
    """Unknown keys, bad zones, versions and ports are Hl7v2ConfigError naming the option."""
    from adapters.hl7v2 import create

    base = {"host": "pas", "port": 2575, "mappings": str(DEMO_MAPPINGS)}
    for extra, where in (
        ({"colour": 1}, "colour"),
        ({"timezone": "Mars/Base"}, "timezone"),
        ({"version": "3.0"}, "version"),
        ({"port": 0}, "port"),
    ):
        with pytest.raises(Hl7v2ConfigError, match=where):
            await create("pas", {**base, **extra}, tmp_path)
