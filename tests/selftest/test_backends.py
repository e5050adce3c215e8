"""``uec-gateway selftest`` against the gateway over every backend, through real sockets."""

from __future__ import annotations

import asyncio
import json
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

from tests.selftest.backends import (
    BACKENDS,
    REST_KEY,
    REST_KEY_ENV,
    ROOT,
    SOAP_PASSWORD,
    SOAP_PASSWORD_ENV,
    Target,
    embedded,
)

LINE = re.compile(r"^(PASS|FAIL) [a-z0-9-]+ — .+$")
CLOSING = re.compile(r"^(\d+) passed, (\d+) failed$")


@pytest.fixture(autouse=True)
def _secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(REST_KEY_ENV, REST_KEY)
    monkeypatch.setenv(SOAP_PASSWORD_ENV, SOAP_PASSWORD)


async def selftest(*args: str) -> tuple[int, str, str]:
    """Run ``uec-gateway selftest ARGS`` as its own process: (exit code, stdout, stderr)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "gateway",
        "selftest",
        *args,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout=180)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


def target_args(target: Target) -> list[str]:
    return [
        "--target",
        target.url,
        "--service",
        target.service,
        "--other-service",
        target.other_service,
    ]


@pytest.mark.parametrize("backend", sorted(BACKENDS))
async def test_selftest_passes_over_every_backend(
    backend: str, tmp_path: Path, unused_tcp_port_factory: Callable[[], int]
) -> None:
    """Over each backend every check passes and the exit code is 0 (JSON report)."""
    async with BACKENDS[backend](tmp_path, unused_tcp_port_factory) as target:
        code, out, err = await selftest(*target_args(target), "--json")
    report: dict[str, Any] = json.loads(out)
    failed = {c["name"]: c["detail"] for c in report["checks"] if not c["passed"]}
    assert failed == {}
    assert code == 0, err
    assert report["passed"] >= 50 and report["failed"] == 0
    assert all(c["page"].endswith(".md") for c in report["checks"]), "each check cites a page"


async def test_text_report_one_line_per_check_and_the_closing_count(
    tmp_path: Path, unused_tcp_port_factory: Callable[[], int]
) -> None:
    """Text mode: a PASS/FAIL line per check citing its page, then exactly 'N passed, M failed'."""
    async with BACKENDS["embedded"](tmp_path, unused_tcp_port_factory) as target:
        code, out, _ = await selftest(*target_args(target))
    *lines, closing = out.strip().splitlines()
    assert all(LINE.match(line) for line in lines), [x for x in lines if not LINE.match(x)]
    counted = CLOSING.match(closing)
    assert counted, closing
    passed, failed = int(counted[1]), int(counted[2])
    assert passed == sum(line.startswith("PASS ") for line in lines)
    assert failed == sum(line.startswith("FAIL ") for line in lines)
    fails = {line.split()[1] for line in lines if line.startswith("FAIL ")}
    assert fails == set() and failed == 0
    assert code == 0
    assert "PASS book-concurrent-one-wins — book_an_appointment.md, fs_xti.md" in lines


HS_SECRET_ENV, HS_SECRET = "SELFTEST_JWT_SECRET", "selftest-jwt-secret-not-a-secret-0123456789"


def _signing(kind: str, tmp: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[str, list[str]]:
    """(the gateway's security.jwt section, the selftest's key options) for ``kind``."""
    if kind == "hs256":
        monkeypatch.setenv(HS_SECRET_ENV, HS_SECRET)
        key = f"{{kid: selftest, algorithm: HS256, secret_env: {HS_SECRET_ENV}}}"
        options = ["--key-env", HS_SECRET_ENV, "--kid", "selftest"]
    else:
        private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        (tmp / "consumer.pem").write_bytes(
            private.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
        )
        (tmp / "consumer.pub.pem").write_bytes(
            private.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
        )
        key = f"{{algorithm: RS256, public_key_file: {tmp / 'consumer.pub.pem'}}}"
        options = ["--key-file", str(tmp / "consumer.pem"), "--algorithm", "RS256"]
    return f"  jwt:\n    allow_unsigned: false\n    keys:\n      - {key}\n", options


@pytest.mark.parametrize("kind", ["hs256", "rs256"])
async def test_selftest_signs_its_tokens_when_the_target_needs_it(
    kind: str,
    tmp_path: Path,
    unused_tcp_port_factory: Callable[[], int],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With the key options a gateway refusing unsigned tokens passes; without them it fails."""
    jwt, key_options = _signing(kind, tmp_path, monkeypatch)
    async with embedded(tmp_path, unused_tcp_port_factory, jwt=jwt) as target:
        _, signed_out, _ = await selftest(*target_args(target), "--json", *key_options)
        unsigned_code, unsigned_out, _ = await selftest(*target_args(target), "--json")
    signed = {c["name"] for c in json.loads(signed_out)["checks"] if not c["passed"]}
    assert signed == set()
    unsigned = {c["name"] for c in json.loads(unsigned_out)["checks"] if not c["passed"]}
    assert unsigned_code == 1 and {"metadata-capability-statement", "book-201"} <= unsigned
