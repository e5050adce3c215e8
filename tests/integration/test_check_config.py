"""`uec-gateway check-config` reports every problem of a configuration in one run."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway import config as config_module
from gateway.cli import main
from tests.integration.cli import demo_copy, run

DATA = "../mappings/embedded/demo"


def _edit(path: Path, old: str, new: str) -> tuple[int, int]:
    """Replace the first ``old`` in ``path``; the 1-based line and column of the change."""
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))
    before = text[: text.index(old)]
    return before.count("\n") + 1, len(before) - (before.rfind("\n") + 1) + 1


async def test_every_stage_is_reported_in_one_run(tmp_path: Path) -> None:
    """A duplicate key, a bad route, bad options, bad rows and a bad store path: all at once."""
    demo_copy(tmp_path)
    data = tmp_path / "mappings/embedded/demo"
    services = _edit(data / "services.csv", "org-rx1", "org-nope")
    roles = _edit(data / "practitioner_roles.csv", "R8000", "X8000")
    (tmp_path / "blocker").write_text("a file where the store's folder should be\n")
    config = tmp_path / "config/many.yaml"
    config.write_text(
        "server:\n  port: 8080\n  port: 9090\n"  # line 3: the duplicate
        "store:\n  path: ../blocker/gateway.sqlite3\n"  # line 5: cannot be created
        "adapters:\n"
        f"  - name: diary\n    kind: embedded\n    options:\n      database: ':memory:'\n"
        f"      data_dir: {DATA}\n"
        f"  - name: broken\n    kind: embedded\n    options:\n      data_dir: {DATA}\n"
        "      horizon_days: 0\n"  # line 16; the adapter starts on line 12
        "services:\n  - id: '918999198999'\n    adapter: diary\n"
        "  - id: '918999198888'\n    adapter: nowhere\n"  # line 21
    )
    done = await run("check-config", str(config))
    assert done.code == 1
    expected = [
        f"{config}:3:3: duplicate key 'port'",
        f"{config}:21:5: service 918999198888 routes to unknown adapter instance 'nowhere'",
        f"{data / 'services.csv'}:{services[0]}:{services[1]}: column organisation_id: "
        "unknown organisation 'org-nope'",
        f"{data / 'practitioner_roles.csv'}:{roles[0]}:{roles[1]}: column role_code: "
        "'X8000' is not an SDS job role code",
        f"{config}:12:5: adapter 'broken' (embedded): database: Value error, give exactly one "
        "of database (an SQLite file) or dsn (a PostgreSQL URL); horizon_days:",
        f"{config}:5:3: store.path: {tmp_path / 'blocker'} is a file, not a folder",
    ]
    assert len(done.lines) == len(expected), done.err
    for line, start in zip(done.lines, expected, strict=True):
        assert line.startswith(start), (line, start)


async def test_every_bad_row_of_one_table_is_reported(tmp_path: Path) -> None:
    """Three bad rows of slot_templates.csv are three problems, each at its own line and column."""
    demo_copy(tmp_path)
    templates = tmp_path / "mappings/embedded/demo/slot_templates.csv"
    lines = templates.read_text().splitlines()
    header = lines[0].split(",")
    bad = {2: ("weekdays", "funday"), 3: ("minutes", "0"), 5: ("from", "18:75")}
    for number, (column, value) in bad.items():
        cells = lines[number - 1].split(",")
        cells[header.index(column)] = value
        lines[number - 1] = ",".join(cells)
    templates.write_text("\n".join(lines) + "\n")
    done = await run("check-config", str(tmp_path / "config/demo.yaml"))
    assert done.code == 1
    assert len(done.lines) == len(bad), done.err
    for line, (number, (column, value)) in zip(done.lines, bad.items(), strict=True):
        text = lines[number - 1]
        at = len(",".join(text.split(",")[: header.index(column)])) + 2
        assert line.startswith(f"{templates}:{number}:{at}: column {column}: '{value}'"), line


async def test_a_row_refused_for_a_bad_row_it_names_is_not_reported_again(tmp_path: Path) -> None:
    """Schedules of a service whose row is bad are left out quietly: one cause, one problem."""
    demo_copy(tmp_path)
    services = tmp_path / "mappings/embedded/demo/services.csv"
    line, column = _edit(services, "org-rx1", "org-nope")
    done = await run("check-config", str(tmp_path / "config/demo.yaml"))
    assert done.code == 1
    assert done.lines == [
        f"{services}:{line}:{column}: column organisation_id: unknown organisation 'org-nope'"
        " (adapter 'demo-diary')"
    ]


async def test_unwritable_store_diary_and_journal_are_reported(tmp_path: Path) -> None:
    """The store, the embedded diary and the HL7 v2 journal must be creatable and writable."""
    demo_copy(tmp_path)
    (tmp_path / "blocker").write_text("not a folder\n")
    config = tmp_path / "config/paths.yaml"
    config.write_text(
        "store:\n  path: ../blocker/gateway.sqlite3\n"
        "adapters:\n"
        "  - name: diary\n    kind: embedded\n    options:\n"
        f"      database: ../blocker/diary.sqlite3\n      data_dir: {DATA}\n"  # line 7
        "  - name: pas\n    kind: hl7v2\n    options:\n      host: 127.0.0.1\n      port: 2575\n"
        "      mappings: ../mappings/hl7v2/demo\n"
        "      database: ../blocker/journal.sqlite3\n"  # line 15
    )
    done = await run("check-config", str(config))
    assert done.code == 1
    blocker = tmp_path / "blocker"
    assert done.lines == [
        f"{config}:2:3: store.path: {blocker} is a file, not a folder, so "
        f"{blocker / 'gateway.sqlite3'} cannot be created",
        f"{config}:7:7: adapter 'diary': database: {blocker} is a file, not a folder, so "
        f"{blocker / 'diary.sqlite3'} cannot be created",
        f"{config}:15:7: adapter 'pas': database: {blocker} is a file, not a folder, so "
        f"{blocker / 'journal.sqlite3'} cannot be created",
    ]
    (tmp_path / "blocker").unlink()
    assert (await run("check-config", str(config))).code == 0
    assert not blocker.exists(), "checking creates no folder"


async def test_tls_problems_name_the_missing_file(tmp_path: Path) -> None:
    """A missing CA, certificate or key file is named with its path, at the adapter and door."""
    demo_copy(tmp_path)
    config = tmp_path / "config/example-hl7-front-door.yaml"
    _edit(config, "enabled: false", "enabled: true")
    _edit(config, "# cert_file", "cert_file")
    _edit(config, "port: 2580", "port: 0")
    pas = tmp_path / "config/tls.yaml"
    pas.write_text(
        "adapters:\n  - name: pas\n    kind: hl7v2\n    options:\n      host: 127.0.0.1\n"
        "      port: 2575\n      mappings: ../mappings/hl7v2/demo\n"
        "      tls: {enabled: true, ca_file: ../certs/pas-ca.pem}\n"
    )
    door, adapter = await run("check-config", str(config)), await run("check-config", str(pas))
    certs = tmp_path / "certs"
    assert door.code == 1 and len(door.lines) == 1
    assert door.lines[0].endswith(f"TLS: cert_file {certs / 'gateway.pem'} does not exist")
    assert adapter.code == 1 and len(adapter.lines) == 1
    assert adapter.lines[0].endswith(f"TLS: ca_file {certs / 'pas-ca.pem'} does not exist")


async def test_every_bad_directory_row_of_a_national_adapter_is_reported(tmp_path: Path) -> None:
    """Each bad directory row at directory.csv:line:column, then what their loss leaves."""
    demo_copy(tmp_path)
    directory = tmp_path / "mappings/national_fhir/directory.csv"
    lines = directory.read_text().splitlines()
    lines[1] = lines[1].replace(",200000000115,", ",ASID-1,", 1)
    lines[2] = lines[2].replace("/appointment,", "/appointment/,", 1)
    directory.write_text("\n".join(lines) + "\n")
    done = await run("check-config", str(tmp_path / "config/example-national-fhir.yaml"))
    assert done.code == 1
    expected = [
        f"{directory}:2:{lines[1].index('ASID-1') + 1}: column asid: 'ASID-1' is not an ASID",
        f"{directory}:3:{lines[2].index('https') + 1}: column service_root: must not end",
        f"{directory}:1:1: no services listed (with the bad rows above left out)",
    ]
    assert len(done.lines) == len(expected), done.err
    for line, start in zip(done.lines, expected, strict=True):
        assert line.startswith(start), (line, start)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("0", "Input should be greater than or equal to 1"),
        ("'2'", "Input should be a valid integer"),
        ("true", "Input should be a valid integer"),
        ("1.5", "Input should be a valid integer"),
    ],
)
def test_a_bad_workers_count_is_reported_at_its_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], value: str, message: str
) -> None:
    """server.workers must be an integer of at least 1; anything else is named at its line."""
    config = tmp_path / "workers.yaml"
    config.write_text(f"server:\n  host: 127.0.0.1\n  workers: {value}\nadapters: []\n")
    assert main(["check-config", str(config)]) == 1
    assert capsys.readouterr().err.splitlines() == [f"{config}:3:3: server.workers: {message}"]


def test_a_workers_count_checks_clean(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """server.workers: 4 is a valid setting (and 1 is its default)."""
    config = tmp_path / "workers.yaml"
    config.write_text("server:\n  workers: 4\nadapters: []\n")
    assert main(["check-config", str(config)]) == 0
    assert config_module.load(config).server.workers == 4
    (tmp_path / "default.yaml").write_text("adapters: []\n")
    assert config_module.load(tmp_path / "default.yaml").server.workers == 1


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (None, "UEC_TEST_CHECK_KEY is not set: payloads would be kept as metadata only"),
        ("not-a-key", "UEC_TEST_CHECK_KEY must hold a 32-byte key, hex or base64"),
    ],
)
def test_an_unusable_journal_key_is_reported_at_its_line(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    value: str | None,
    message: str,
) -> None:
    """journal.key_env naming an unset variable or one holding no key is named at its line."""
    if value is None:
        monkeypatch.delenv("UEC_TEST_CHECK_KEY", raising=False)
    else:
        monkeypatch.setenv("UEC_TEST_CHECK_KEY", value)
    config = tmp_path / "journal.yaml"
    config.write_text(
        f"store:\n  path: {tmp_path / 'g.sqlite3'}\n"
        "journal:\n  key_env: UEC_TEST_CHECK_KEY\nadapters: []\n"
    )
    assert main(["check-config", str(config)]) == 1
    err = capsys.readouterr().err
    assert err.splitlines() == [f"{config}:4:3: journal: {message}"]
    assert "not-a-key" not in err


def test_a_usable_journal_key_checks_clean(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 32-byte key in the named variable passes check-config."""
    monkeypatch.setenv("UEC_TEST_CHECK_KEY", "ab" * 32)
    config = tmp_path / "journal.yaml"
    config.write_text(
        f"store:\n  path: {tmp_path / 'g.sqlite3'}\n"
        "journal:\n  key_env: UEC_TEST_CHECK_KEY\nadapters: []\n"
    )
    assert main(["check-config", str(config)]) == 0, capsys.readouterr().err
