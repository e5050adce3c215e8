"""`uec-gateway check-config` on the policy folder: every problem located, exit non-zero."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from gateway.cli import main

ROOT = Path(__file__).resolve().parents[2]
DEMO_DIARY = ROOT / "mappings" / "embedded" / "demo"
LOCATED = re.compile(r"^(?P<file>\S+):(?P<line>\d+):(?P<column>\d+): (?P<message>.+)$")


@pytest.fixture
def policy(tmp_path: Path) -> Path:
    folder = tmp_path / "policy"
    shutil.copytree(ROOT / "mappings" / "policy" / "demo", folder)
    return folder


def configure(tmp_path: Path, routed: tuple[str, ...] = ("918999198999", "918999198888")) -> Path:
    services = "".join(f"  - id: '{sid}'\n    adapter: diary\n" for sid in routed)
    path = tmp_path / "gateway.yaml"
    path.write_text(
        f"store:\n  path: {tmp_path / 'g.sqlite3'}\n"
        "adapters:\n  - name: diary\n    kind: embedded\n"
        f"    options: {{database: {tmp_path / 'diary.sqlite3'}, data_dir: '{DEMO_DIARY}'}}\n"
        f"services:\n{services}"
        "policy:\n  folder: policy\n"
    )
    return path


def located(err: str) -> list[tuple[str, int, str]]:
    """(file name, line, message) of each located problem on stderr."""
    found = [LOCATED.match(line) for line in err.splitlines()]
    return [(Path(m["file"]).name, int(m["line"]), m["message"]) for m in found if m]


def line_of(path: Path, text: str) -> int:
    return next(n for n, line in enumerate(path.read_text().splitlines(), 1) if text in line)


def test_the_demo_policy_checks_clean(
    policy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A configuration routing both demo policy services, with the demo files, is OK."""
    assert main(["check-config", str(configure(tmp_path))]) == 0
    assert "OK" in capsys.readouterr().out


def test_every_problem_of_a_broken_policy_file_is_listed_at_its_line(
    policy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A bad group, an unknown release kind and a share over 1 are each named at their line."""
    rules = policy / "policy.yaml"
    text = rules.read_text()
    text = text.replace("see: [any]", "see: [anyone]")
    text = text.replace("kind: out_of_area_window", "kind: out_of_window")
    rules.write_text(text.replace("share: 0.5", "share: 1.5"))

    assert main(["check-config", str(configure(tmp_path))]) == 1
    problems = located(capsys.readouterr().err)
    lines = {line: message for name, line, message in problems if name == "policy.yaml"}
    assert "'anyone' is not a group" in lines[line_of(rules, "see: [anyone]")]
    assert "less than or equal to 1" in lines[line_of(rules, "share: 1.5")]
    assert "out_of_window" in lines[line_of(rules, "- name: out-of-area-next-day")]


def test_each_duplicated_ods_code_in_the_regions_table_is_named_at_its_row(
    policy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Every ODS code listed twice in regions.csv is a problem at its own row."""
    table = policy / "regions.csv"
    rows = table.read_text().splitlines()
    table.write_text("\n".join([*rows, "B2001,south-west,QOX,QOX", "A1001,london,QMJ,QMJ"]) + "\n")

    assert main(["check-config", str(configure(tmp_path))]) == 1
    problems = located(capsys.readouterr().err)
    assert ("regions.csv", len(rows) + 1, "column ods_code: 'B2001' is listed twice") in problems
    assert ("regions.csv", len(rows) + 2, "column ods_code: 'A1001' is listed twice") in problems


def test_a_policy_service_not_routed_is_a_problem_at_its_entry(
    policy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A service id in policy.yaml that services: does not route is flagged where it is."""
    config = configure(tmp_path, routed=("918999198999",))

    assert main(["check-config", str(config)]) == 1
    problems = located(capsys.readouterr().err)
    at = line_of(policy / "policy.yaml", '"918999198888":')
    [(name, line, message)] = problems
    assert (name, line) == ("policy.yaml", at)
    assert "'918999198888'" in message and "not routed by services:" in message
