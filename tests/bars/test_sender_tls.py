"""The bars-sender's client certificate: mutual TLS to a gateway that requires one.

The national proxy reaches a receiver over mTLS (Security-and-Authorisation). Here the
gateway's BaRS door is served over TLS with client-certificate verification against a
test CA; the sender with ``--cert/--key/--ca`` is answered, without a certificate it is
refused in the handshake (api/examples 403-REC_FORBIDDEN: "TLS-MA failure").
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import ssl
from collections.abc import Callable
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from gateway.app import create_app
from gateway.config import load as load_config
from tests.api.conftest import GatewayTestServer, write_config
from tests.bars.conftest import BARS_ROOT_PATH, DOS, DOS_ID, bars_section
from tests.processes import run_python
from tests.samples import ROOT

Key = ec.EllipticCurvePrivateKey


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def _cert(
    subject: str, key: Key, issuer: tuple[str, Key] | None, *, server: bool
) -> x509.Certificate:
    now = dt.datetime.now(dt.UTC)
    signer_name, signer_key = issuer or (subject, key)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(_name(signer_name))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=issuer is None, path_length=None), critical=True)
    )
    if server:
        san = x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))])
        builder = builder.add_extension(san, critical=False)
    return builder.sign(signer_key, hashes.SHA256())


def _write(folder: Path, stem: str, cert: x509.Certificate, key: Key) -> tuple[Path, Path]:
    cert_path, key_path = folder / f"{stem}.pem", folder / f"{stem}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def _pki(folder: Path) -> dict[str, tuple[Path, Path]]:
    """A test CA, a server certificate for 127.0.0.1 and a client certificate, both CA-signed."""
    ca_key = ec.generate_private_key(ec.SECP256R1())
    out = {"ca": _write(folder, "ca", _cert("test CA", ca_key, None, server=False), ca_key)}
    for stem, server in (("server", True), ("client", False)):
        key = ec.generate_private_key(ec.SECP256R1())
        cert = _cert(stem, key, ("test CA", ca_key), server=server)
        out[stem] = _write(folder, stem, cert, key)
    return out


async def test_the_sender_speaks_mtls_and_is_refused_without_its_certificate(
    tmp_path: Path, unused_tcp_port_factory: Callable[[], int]
) -> None:
    """With --cert/--key/--ca the search is answered over mTLS; without a certificate, exit 2."""
    pki = _pki(tmp_path)
    port = unused_tcp_port_factory()
    path = write_config(tmp_path, port)
    with path.open("a", encoding="utf-8") as handle:
        handle.write(bars_section(port, "918999198999"))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=str(pki["ca"][0]))
    context.load_cert_chain(*pki["server"])
    context.verify_mode = ssl.CERT_REQUIRED
    server = GatewayTestServer(
        create_app(load_config(path), path), scheme="https", host="127.0.0.1", port=port
    )
    await server.start_server(ssl=context)
    try:
        base = f"https://127.0.0.1:{port}{BARS_ROOT_PATH}"
        common = ["-m", "gateway", "simulate", "bars-sender", "--base", base]
        common += ["--target", f"{DOS}|{DOS_ID}", "--ca", str(pki["ca"][0])]
        cert, key = pki["client"]
        done = await run_python(
            [*common, "--cert", str(cert), "--key", str(key), "search"], ROOT, timeout_s=90
        )
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["body"]["type"] == "searchset"
        refused = await run_python([*common, "search"], ROOT, timeout_s=90)
        assert refused.returncode == 2 and refused.stdout == ""
        assert "could not ask" in refused.stderr and "Traceback" not in refused.stderr
    finally:
        await server.close()
