"""check-config on ``server.tls`` (and every listener's certificates): files that exist and
parse, a key that is the certificate's, and expiry, each at the option's line and column."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from gateway.cli import main
from gateway.config import load as load_config
from gateway.tls.expiry import certificate_expiry
from tests.api.conftest import write_config
from tests.bars.test_tls import tls_section
from tests.tls.certs import stray_key
from tests.tls.conftest import Pki, add_server_tls, tls_options


def _config(tmp_path: Path, pki: Pki, **changes: Any) -> Path:
    """A gateway configuration whose server.tls is ours, with ``changes`` to its options."""
    options = {**tls_options(pki, "required"), **changes}
    return add_server_tls(write_config(tmp_path, 8443), options)


def _at(config: Path, option: str, indent: str = "    ") -> str:
    """``file:line:column`` of ``option`` in server.tls (or another block, by its indent)."""
    lines = config.read_text(encoding="utf-8").splitlines()
    (line,) = [n for n, text in enumerate(lines, 1) if text.startswith(f"{indent}{option}:")]
    return f"{config}:{line}:{len(indent) + 1}"


def _check(config: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str], str]:
    code = main(["check-config", str(config)])
    out = capsys.readouterr()
    return code, out.err.splitlines(), out.out


def test_good_files_pass_without_a_warning(
    tmp_path: Path, pki: Pki, capsys: pytest.CaptureFixture[str]
) -> None:
    """A certificate, its key and a CA, all valid for a year: OK, nothing on stderr."""
    code, err, out = _check(_config(tmp_path, pki), capsys)
    assert (code, err) == (0, []) and "OK" in out


def test_a_missing_certificate_file_is_named_at_its_option(
    tmp_path: Path, pki: Pki, capsys: pytest.CaptureFixture[str]
) -> None:
    """cert_file that does not exist: one problem at server.tls.cert_file, exit status 1."""
    absent = tmp_path / "absent.pem"
    config = _config(tmp_path, pki, cert_file=str(absent))
    code, err, _ = _check(config, capsys)
    assert code == 1
    assert err == [f"{_at(config, 'cert_file')}: server.tls: cert_file {absent} does not exist"]


def test_a_key_that_is_not_the_certificates_is_named(
    tmp_path: Path, pki: Pki, capsys: pytest.CaptureFixture[str]
) -> None:
    """key_file holding another key: the problem is at server.tls.key_file and names both files."""
    key = stray_key(tmp_path / "other.key")
    config = _config(tmp_path, pki, key_file=str(key))
    code, err, _ = _check(config, capsys)
    assert code == 1
    assert err == [
        f"{_at(config, 'key_file')}: server.tls: key_file {key} is not the key of "
        f"cert_file {pki.server.cert_file}"
    ]


def test_a_ca_file_that_is_not_a_certificate_is_named(
    tmp_path: Path, pki: Pki, capsys: pytest.CaptureFixture[str]
) -> None:
    """ca_file that holds no certificate (here, a key): a problem at server.tls.ca_file."""
    config = _config(tmp_path, pki, ca_file=str(pki.client.key_file))
    code, err, _ = _check(config, capsys)
    assert code == 1
    assert err == [
        f"{_at(config, 'ca_file')}: server.tls: ca_file {pki.client.key_file} "
        "holds no PEM certificate"
    ]


def test_an_expired_certificate_is_a_problem(
    tmp_path: Path, pki: Pki, capsys: pytest.CaptureFixture[str]
) -> None:
    """A certificate that ended yesterday: a problem at server.tls.cert_file saying so."""
    old = pki.ca.issue("expired", server=True, days=-1, started_days_ago=30)
    config = _config(tmp_path, pki, cert_file=str(old.cert_file), key_file=str(old.key_file))
    code, err, _ = _check(config, capsys)
    assert code == 1
    (line,) = err
    assert line.startswith(f"{_at(config, 'cert_file')}: server.tls.cert_file: certificate ")
    assert "CN=expired" in line and " expired on " in line


def test_a_certificate_ending_soon_is_a_warning(
    tmp_path: Path, pki: Pki, capsys: pytest.CaptureFixture[str]
) -> None:
    """A certificate ending in 10 days: a warning at server.tls.cert_file; the check passes."""
    soon = pki.ca.issue("soon", server=True, days=10.5)
    config = _config(tmp_path, pki, cert_file=str(soon.cert_file), key_file=str(soon.key_file))
    code, err, out = _check(config, capsys)
    assert code == 0 and "OK" in out
    (line,) = err
    assert line.startswith(f"{_at(config, 'cert_file')}: warning: server.tls.cert_file: ")
    assert "CN=soon" in line and "expires in 10 day(s)" in line


def test_the_warning_period_is_configurable(
    tmp_path: Path, pki: Pki, capsys: pytest.CaptureFixture[str]
) -> None:
    """expiry_warning_days: 5 leaves a certificate with 10 days to go unwarned."""
    soon = pki.ca.issue("soon", server=True, days=10.5)
    config = _config(
        tmp_path,
        pki,
        cert_file=str(soon.cert_file),
        key_file=str(soon.key_file),
        expiry_warning_days=5,
    )
    assert _check(config, capsys)[:2] == (0, [])


def test_an_expired_bars_listener_certificate_is_a_problem(
    tmp_path: Path, pki: Pki, capsys: pytest.CaptureFixture[str]
) -> None:
    """bars.tls with a certificate that has ended: a problem at bars.tls.cert_file."""
    old = pki.ca.issue("bars-expired", server=True, days=-2, started_days_ago=30)
    config = write_config(tmp_path, 8080)
    with config.open("a", encoding="utf-8") as handle:
        handle.write(tls_section(8443, old.cert_file, old.key_file, pki.ca.ca_file))
    code, err, _ = _check(config, capsys)
    assert code == 1
    (line,) = err
    assert line.startswith(f"{_at(config, 'cert_file')}: bars.tls.cert_file: certificate ")
    assert "CN=bars-expired" in line and " expired on " in line


def test_days_to_expiry_are_counted_from_the_given_time(tmp_path: Path, pki: Pki) -> None:
    """certificate_expiry: our certificate and the clients' CA, with days left from ``now``."""
    settings = load_config(_config(tmp_path, pki))
    later = datetime.now(UTC) + timedelta(days=100)
    found = {e.option: round(e.days_left) for e in certificate_expiry(settings, later)}
    assert found == {"server.tls.cert_file": 265, "server.tls.ca_file": 265}
