"""The ITK adapter's options and provider table are checked before anything is sent."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from adapters import registry
from adapters._csvtable import DataFileError
from adapters.itk import ItkConfigError, check
from tests.itk.sender_rig import MAPPINGS, SENDER

GOOD: dict[str, Any] = {
    "endpoint": "http://127.0.0.1:9/itk",
    "mappings": str(MAPPINGS),
    "sender_address": SENDER,
}


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"endpoint": "ftp://x/itk"}, "endpoint"),
        ({"sender_adress": "x"}, "sender_adress"),
        ({"retry": {"first_delay_s": 5, "max_delay_s": 1}}, "max_delay_s"),
        ({"business_ack": {"mode": "sometimes"}}, "business_ack.mode"),
        ({"business_ack": {"public_url": "not a url"}}, "business_ack.public_url"),
        ({"bookings": {"kind": "itk"}}, "bookings.kind"),
    ],
)
def test_a_bad_option_is_named(tmp_path: Path, change: dict[str, Any], named: str) -> None:
    """check-config names the option at fault (and the adapter), without opening anything."""
    with pytest.raises(ItkConfigError) as caught:
        check("itk-demo", {**GOOD, **change}, tmp_path)
    assert named in str(caught.value) and "itk-demo" in str(caught.value)


def test_an_unknown_bookings_kind_gets_a_hint(tmp_path: Path) -> None:
    """A misspelt bookings adapter kind is refused with a 'did you mean'."""
    with pytest.raises(ItkConfigError, match="did you mean 'embedded'"):
        check("itk-demo", {**GOOD, "bookings": {"kind": "embeded"}}, tmp_path)


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("918999197001,not an address,,urn:nhs-itk:interaction:x,", "column address"),
        ("918999197001,urn:nhs-uk:addressing:ods:X1,,interaction,", "column interaction"),
        ("1,urn:nhs-uk:addressing:ods:X1,,urn:nhs-itk:interaction:x,ftp://y", "endpoint"),
    ],
)
def test_a_bad_provider_row_names_its_line(tmp_path: Path, row: str, message: str) -> None:
    """A provider row that cannot be used fails with providers.csv, its line and column."""
    (tmp_path / "providers.csv").write_text(
        "service_id,address,address_type,interaction,endpoint\n" + row + "\n", encoding="utf-8"
    )
    with pytest.raises(DataFileError) as caught:
        check("itk-demo", {**GOOD, "mappings": str(tmp_path)}, tmp_path)
    assert "providers.csv line 2" in str(caught.value) and message in str(caught.value)


def test_one_service_keeps_one_interaction(tmp_path: Path) -> None:
    """Two rows of one service that disagree on the interaction are refused (line 3)."""
    (tmp_path / "providers.csv").write_text(
        "service_id,address,interaction\n"
        "1,urn:nhs-uk:addressing:ods:X1,urn:nhs-itk:interaction:a\n"
        "1,urn:nhs-uk:addressing:ods:X2,urn:nhs-itk:interaction:b\n",
        encoding="utf-8",
    )
    with pytest.raises(DataFileError, match="line 3"):
        check("itk-demo", {**GOOD, "mappings": str(tmp_path)}, tmp_path)


async def test_the_registry_knows_kind_itk(tmp_path: Path) -> None:
    """`kind: itk` is registered and its demo table passes check-config."""
    assert "itk" in registry.ADAPTERS
    await registry.check("itk", "itk-demo", GOOD, tmp_path)


async def test_the_example_configuration_passes_check_config() -> None:
    """`uec-gateway check-config config/example-itk-sender.yaml` accepts the ITK example."""
    from tests.integration.cli import ROOT, run

    done = await run("check-config", str(ROOT / "config" / "example-itk-sender.yaml"))
    assert done.code == 0, done.err
    assert "OK (1 adapter(s), 2 route(s))" in done.out
