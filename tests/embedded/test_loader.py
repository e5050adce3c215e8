"""The embedded adapter's data files and options are validated with precise errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.embedded import DataFileError, EmbeddedConfigError, check, create, load_directory
from gateway.cli import main
from tests.embedded.helpers import DEMO, OOH_SERVICE, UTC_SERVICE

#: A PostgreSQL URL nothing listens at: checking options never connects.
PG = "postgresql://postgres@127.0.0.1:1/test"


def _edit(folder: Path, file: str, old: str, new: str) -> None:
    path = folder / file
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {file}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


BROKEN_ROWS = [
    pytest.param(
        "services.csv",
        "Out of Hours (telephone),org-rx1",
        "Out of Hours (telephone),org-nope",
        "services.csv line 3: column organisation_id: unknown organisation 'org-nope'",
        id="unknown-organisation",
    ),
    pytest.param(
        "schedules.csv",
        "sched-ooh-gp,918999198888",
        "sched-ooh-gp,918999190000",
        "schedules.csv line 4: column service_id: unknown service '918999190000'",
        id="unknown-service",
    ),
    pytest.param(
        "schedules.csv",
        "prac-hartley,role-hartley-clinician",
        "prac-okonkwo,role-hartley-clinician",
        "schedules.csv line 3: column practitioner_role_id: role 'role-hartley-clinician' "
        "belongs to practitioner 'prac-hartley', not 'prac-okonkwo'",
        id="role-of-another-practitioner",
    ),
    pytest.param(
        "slot_templates.csv",
        "sched-ooh-gp,sat-sun",
        "sched-nope,sat-sun",
        "slot_templates.csv line 6: column schedule_id: unknown schedule 'sched-nope'",
        id="unknown-schedule",
    ),
    pytest.param(
        "slot_templates.csv",
        "sched-utc-gp,mon-sun",
        "sched-utc-gp,mon-funday",
        "slot_templates.csv line 2: column weekdays: 'funday' is not a weekday "
        "(use mon, tue, wed, thu, fri, sat, sun)",
        id="bad-weekday",
    ),
    pytest.param(
        "slot_templates.csv",
        "18:30,24:00",
        "18:75,24:00",
        "slot_templates.csv line 5: column from: '18:75' is not a time of day",
        id="bad-time",
    ),
    pytest.param(
        "slot_templates.csv",
        "sched-utc-clinician,mon-sun,08:00,20:00",
        "sched-utc-clinician,mon-sun,20:00,08:00",
        "slot_templates.csv line 3: column to: '08:00' is not after '20:00'",
        id="ends-before-it-starts",
    ),
    pytest.param(
        "slot_templates.csv",
        "20:00,10,In-person\nsched-utc-clinician",
        "20:00,10,Carrier pigeon\nsched-utc-clinician",
        "slot_templates.csv line 2: column delivery_channel: 'Carrier pigeon' is not a "
        "delivery channel (In-person, Telephone, Video or empty)",
        id="bad-delivery-channel",
    ),
    pytest.param(
        "slot_templates.csv",
        "20:00,10,In-person\nsched-utc-clinician",
        "20:00,0,In-person\nsched-utc-clinician",
        "slot_templates.csv line 2: column minutes: '0' is not a whole number of minutes (1-1440)",
        id="zero-minutes",
    ),
    pytest.param(
        "practitioner_roles.csv",
        "R8000",
        "X8000",
        "practitioner_roles.csv line 3: column role_code: 'X8000' is not an SDS job role code "
        "like R0260",
        id="bad-role-code",
    ),
    pytest.param(
        "practitioners.csv",
        "Iqbal,Samira,Dr,female",
        "Iqbal,Samira,Dr,alien",
        "practitioners.csv line 4: column gender: 'alien' is not one of male, female, other, "
        "unknown",
        id="bad-gender",
    ),
    pytest.param(
        "practitioners.csv",
        "prac-hartley,Hartley",
        "prac-okonkwo,Hartley",
        "practitioners.csv line 3: column id: duplicate id 'prac-okonkwo' (first on line 2)",
        id="duplicate-id",
    ),
    pytest.param(
        "services.csv",
        "918999198888,Fernbrook GP Out of Hours (telephone)",
        "918999198888,",
        "services.csv line 3: column name: a value is required",
        id="missing-value",
    ),
    pytest.param(
        "locations.csv",
        ",managing_organisation_id",
        ",owner",
        "locations.csv line 1: missing column(s) managing_organisation_id",
        id="missing-column",
    ),
    pytest.param(
        "organisations.csv",
        "id,ods_code,name,phone",
        "id,ods_code,name,fax",
        "organisations.csv line 1: unknown column(s) fax",
        id="unknown-column",
    ),
    pytest.param(
        "locations.csv",
        "FB2 7LD,org-rx1",
        "FB2 7LD,org-rx1,extra",
        "locations.csv line 3: more values than columns",
        id="too-many-values",
    ),
]


@pytest.mark.parametrize(("file", "old", "new", "message"), BROKEN_ROWS)
def test_a_broken_row_names_file_line_and_column(
    data_dir: Path, file: str, old: str, new: str, message: str
) -> None:
    """A bad value or reference fails the load with its file, line and column."""
    _edit(data_dir, file, old, new)
    with pytest.raises(DataFileError) as caught:
        load_directory(data_dir)
    assert str(caught.value) == message


def test_a_missing_file_is_named(data_dir: Path) -> None:
    """A data file that is not there is reported by name, not as a bare OSError."""
    (data_dir / "schedules.csv").unlink()
    with pytest.raises(DataFileError, match=r"^schedules\.csv: file not found in "):
        load_directory(data_dir)


def test_demo_data_loads_completely() -> None:
    """The shipped demo data loads with both services and their schedules."""
    directory = load_directory(DEMO)
    assert set(directory.services) == {UTC_SERVICE, OOH_SERVICE}
    assert len(directory.by_service[UTC_SERVICE]) == 2
    organisation = directory.organisations["org-rx1"]
    assert organisation.ods_code == "RX1"
    roles = {directory.roles[s].role_code for s in ("role-okonkwo-gp", "role-hartley-clinician")}
    assert roles == {"R0260", "R8000"}


async def test_create_refuses_bad_data_with_a_value_error(data_dir: Path, tmp_path: Path) -> None:
    """create() raises the loader's ValueError subclass for a broken data folder."""
    _edit(data_dir, "services.csv", "(telephone),org-rx1", "(telephone),org-nope")
    options = {"database": ":memory:", "data_dir": "data"}
    with pytest.raises(ValueError, match=r"services\.csv line 3: column organisation_id"):
        await create("broken", options, tmp_path)


@pytest.mark.parametrize(
    ("options", "fragment"),
    [
        ({"data_dir": "data"}, "give exactly one of database (an SQLite file) or dsn"),
        ({"database": ":memory:", "data_dir": "data", "colour": "red"}, "colour"),
        ({"database": ":memory:", "data_dir": "data", "timezone": "Mars/Olympus"}, "Mars"),
        ({"database": ":memory:", "data_dir": "data", "horizon_days": 0}, "horizon_days"),
        (
            {"database": ":memory:", "dsn": PG, "data_dir": "data"},
            "give exactly one of database (an SQLite file) or dsn",
        ),
        ({"dsn": "mysql://u@h/db", "data_dir": "data"}, "dsn: Value error, must be a URL like"),
        ({"dsn": "postgresql://u:pw@h/db", "data_dir": "data"}, "dsn: Value error, must not hold"),
        ({"dsn": PG + "?password=pw", "data_dir": "data"}, "must not hold a password"),
        ({"dsn": PG, "schema": "Diary; DROP", "data_dir": "data"}, "schema: Value error"),
        ({"dsn": PG, "pool_size": 0, "data_dir": "data"}, "pool_size"),
        (
            {"database": ":memory:", "schema": "diary", "password_env": "X", "data_dir": "data"},
            "password_env and schema apply only with dsn (PostgreSQL)",
        ),
    ],
)
async def test_bad_options_are_refused_by_name(
    data_dir: Path, tmp_path: Path, options: dict[str, object], fragment: str
) -> None:
    """Invalid options raise EmbeddedConfigError naming the adapter and the option."""
    with pytest.raises(EmbeddedConfigError, match="adapter 'x' \\(embedded\\)") as caught:
        await create("x", options, tmp_path)
    assert fragment in str(caught.value)


async def test_an_unset_password_variable_is_named_not_guessed(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """password_env naming an unset variable fails create with the variable's name."""
    monkeypatch.delenv("UEC_TEST_UNSET_DIARY_PASSWORD", raising=False)
    options = {"dsn": PG, "password_env": "UEC_TEST_UNSET_DIARY_PASSWORD", "data_dir": "data"}
    with pytest.raises(EmbeddedConfigError) as caught:
        await create("x", options, tmp_path)
    assert str(caught.value) == (
        "adapter 'x' (embedded): password_env: "
        "environment variable UEC_TEST_UNSET_DIARY_PASSWORD is not set"
    )


def test_check_accepts_a_postgres_diary_without_connecting(data_dir: Path, tmp_path: Path) -> None:
    """check() validates dsn options and the data files but opens no connection."""
    check("x", {"dsn": PG, "schema": "diary", "data_dir": "data"}, tmp_path)


def test_check_config_reports_diary_options_at_their_adapter(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """check-config names both-database-and-dsn and a password in the dsn, never echoing it."""
    config = tmp_path / "diary.yaml"
    config.write_text(
        "adapters:\n"
        "  - name: both\n    kind: embedded\n"
        f"    options: {{database: d.sqlite3, dsn: '{PG}', data_dir: '{DEMO}'}}\n"
        "  - name: secret\n    kind: embedded\n"
        f"    options: {{dsn: 'postgresql://u:hunter2@h/db', data_dir: '{DEMO}'}}\n"
    )
    assert main(["check-config", str(config)]) == 1
    problems = capsys.readouterr().err.strip().splitlines()
    assert any(
        p.startswith(f"{config}:2:5:") and "give exactly one of database" in p for p in problems
    )
    assert any(p.startswith(f"{config}:5:5:") and "must not hold a password" in p for p in problems)
    assert not any("hunter2" in p for p in problems)
