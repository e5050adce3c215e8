"""The uec-gateway command line: tokens, example bookings and configuration checks."""

from __future__ import annotations

import base64
import io
import json
import shutil
from pathlib import Path

import pytest

from gateway.cli import main

ROOT = Path(__file__).resolve().parents[2]


def _claims(token: str) -> dict[str, object]:
    header, payload, signature = token.split(".")
    assert signature == ""
    decoded: dict[str, object] = json.loads(
        base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    )
    assert json.loads(base64.urlsafe_b64decode(header + "==")) == {"alg": "none", "typ": "JWT"}
    return decoded


def test_token_is_standard_conformant(capsys: pytest.CaptureFixture[str]) -> None:
    """`token` prints an unsigned JWT with every fs_authentication.md claim, aud = the demo root."""
    assert (
        main(
            [
                "token",
                "--scope",
                "organization/slot.read",
                "--config",
                str(ROOT / "config/demo.yaml"),
            ]
        )
        == 0
    )
    claims = _claims(capsys.readouterr().out.strip())
    for claim in (
        "iss",
        "sub",
        "aud",
        "exp",
        "iat",
        "reason_for_request",
        "requested_scope",
        "requesting_device",
        "requesting_organization",
    ):
        assert claim in claims, claim
    assert claims["aud"] == "http://127.0.0.1:8080/STU3/1/careconnect/appointment"
    assert claims["exp"] == int(claims["iat"]) + 300  # type: ignore[call-overload]


def test_check_config_accepts_the_demo(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """The shipped demo configuration and its data files check clean."""
    config = tmp_path / "config"
    shutil.copytree(ROOT / "config", config)
    shutil.copytree(ROOT / "mappings", tmp_path / "mappings")
    assert main(["check-config", str(config / "demo.yaml")]) == 0
    assert "OK" in capsys.readouterr().out
    assert not (tmp_path / "var").exists(), "checking never creates the diary or the store"


def test_check_config_reports_a_broken_row(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """A data row naming an unknown organisation is reported at the CSV's own file:line:column."""
    shutil.copytree(ROOT / "config", tmp_path / "config")
    shutil.copytree(ROOT / "mappings", tmp_path / "mappings")
    services = tmp_path / "mappings/embedded/demo/services.csv"
    services.write_text(services.read_text().replace("org-rx1", "org-nope", 1))
    column = services.read_text().splitlines()[1].index("org-nope") + 1
    assert main(["check-config", str(tmp_path / "config/demo.yaml")]) == 1
    (problem,) = capsys.readouterr().err.strip().splitlines()
    assert problem.startswith(f"{services}:2:{column}: column organisation_id:")
    assert "org-nope" in problem


def test_check_config_reports_unknown_adapter_and_route(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """An unknown adapter kind gets a 'did you mean'; a route to no adapter names it."""
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "adapters:\n  - name: a\n    kind: embeded\nservices:\n  - id: '1'\n    adapter: a\n"
    )
    assert main(["check-config", str(bad)]) == 1
    assert "did you mean 'embedded'" in capsys.readouterr().err
    bad.write_text("adapters: []\nservices:\n  - id: '1'\n    adapter: nowhere\n")
    assert main(["check-config", str(bad)]) == 1
    assert "unknown adapter instance 'nowhere'" in capsys.readouterr().err


def test_example_booking_from_a_search(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`example-booking` turns a slot Bundle into a booking for its first free slot."""
    slot = {
        "resourceType": "Slot",
        "id": "s1",
        "identifier": [{"system": "x", "value": "u1"}],
        "schedule": {"reference": "Schedule/a"},
        "status": "free",
        "start": "2030-01-01T10:00:00+00:00",
        "end": "2030-01-01T10:10:00+00:00",
    }
    monkeypatch.setattr(
        "sys.stdin",
        io.StringIO(json.dumps({"resourceType": "Bundle", "entry": [{"resource": slot}]})),
    )
    assert main(["example-booking"]) == 0
    body = json.loads(capsys.readouterr().out)
    assert body["start"] == slot["start"] and body["status"] == "booked"
    monkeypatch.setattr("sys.stdin", io.StringIO("{}"))
    assert main(["example-booking"]) == 1


def _problems(capsys: pytest.CaptureFixture[str], path: Path) -> list[str]:
    assert main(["check-config", str(path)]) == 1
    return capsys.readouterr().err.strip().splitlines()


def test_check_config_reports_duplicate_keys_with_position(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """A key written twice in one mapping is an error at the second key's line and column."""
    bad = tmp_path / "dup.yaml"
    bad.write_text("server:\n  port: 8080\n  port: 9090\n")
    (problem,) = _problems(capsys, bad)
    assert problem.startswith(f"{bad}:3:3:") and "duplicate key 'port'" in problem


def test_check_config_reports_missing_and_literal_secrets(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An *_env option naming an unset variable, and a secret written inline, are both reported."""
    monkeypatch.delenv("UEC_NOT_SET_ANYWHERE", raising=False)
    bad = tmp_path / "secrets.yaml"
    bad.write_text(
        "security:\n  jwt:\n    keys:\n      - algorithm: HS256\n"
        "        secret_env: UEC_NOT_SET_ANYWHERE\n"
        "adapters: []\n"
    )
    problems = _problems(capsys, bad)
    assert any(
        p.startswith(f"{bad}:5:9:") and "UEC_NOT_SET_ANYWHERE is not set" in p for p in problems
    )
    bad.write_text(
        "adapters:\n  - name: a\n    kind: embedded\n    options:\n      api_key: hunter2\n"
    )
    problems = _problems(capsys, bad)
    assert any(p.startswith(f"{bad}:5:7:") and "api_key_env" in p for p in problems)
    assert not any("hunter2" in p for p in problems), "the secret itself is never echoed"


def test_check_config_reports_every_problem_with_positions(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """Several mistakes in one file are all reported, each at its own line."""
    bad = tmp_path / "many.yaml"
    bad.write_text(
        "adapters:\n  - name: a\n    kind: embedded\n    options: {password: x}\n"
        "services:\n  - id: '1'\n    adapter: nowhere\n  - id: '1'\n    adapter: a\n"
    )
    problems = _problems(capsys, bad)
    assert any(p.startswith(f"{bad}:4:15:") and "password_env" in p for p in problems)
    assert any(p.startswith(f"{bad}:7:5:") and "'nowhere'" in p for p in problems)
    assert any(p.startswith(f"{bad}:8:5:") and "routed twice" in p for p in problems)


def test_check_config_reports_yaml_syntax_position(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """Broken YAML is reported with the line and column where parsing failed."""
    bad = tmp_path / "syntax.yaml"
    bad.write_text("server:\n  port: [8080\n")
    (problem,) = _problems(capsys, bad)
    assert problem.startswith(f"{bad}:3:")


@pytest.mark.parametrize("peer", ["hl7v2-pas", "rest-diary", "soap-diary"])
def test_simulate_hands_over_to_each_reference_peer(
    peer: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """`simulate NAME --help` reaches that peer's own command line."""
    with pytest.raises(SystemExit) as stopped:
        main(["simulate", peer, "--help"])
    assert stopped.value.code == 0
    assert "--port" in capsys.readouterr().out
