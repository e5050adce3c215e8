"""The BaRS door over mutual TLS (``bars.tls``): its own listener verifies client certificates
against the configured CA; certificates are made at run time by a throwaway CA."""

from __future__ import annotations

import datetime as dt
import ipaddress
import shutil
import ssl
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from fhir.resources.R4B.capabilitystatement import CapabilityStatement

from gateway.app import create_app
from gateway.bars import wire
from gateway.cli import main
from gateway.config import load as load_config
from gateway.fhir.formats import WireFormat
from tests.api.conftest import GatewayTestServer, write_config
from tests.bars.conftest import BARS_ROOT_PATH, DOS, DOS_ID, Sender

ROOT = Path(__file__).resolve().parents[2]
CAPABILITY_EXAMPLE = (
    ROOT.parent / "shared" / "spec" / "bars" / "examples" / "BARS-CapabilityStatement-example.xml"
)


@dataclass(frozen=True)
class Authority:
    """A CA that signs certificates (written as PEM files in ``folder``)."""

    folder: Path
    name: str
    key: ec.EllipticCurvePrivateKey
    cert: x509.Certificate

    @property
    def ca_file(self) -> Path:
        return self.folder / f"{self.name}-ca.pem"

    def issue(self, subject: str, *, server: bool) -> tuple[Path, Path]:
        """A certificate for ``subject`` (127.0.0.1 for a server), and its key."""
        key = ec.generate_private_key(ec.SECP256R1())
        now = dt.datetime.now(dt.UTC)
        usage = (
            x509.ExtendedKeyUsageOID.SERVER_AUTH if server else x509.ExtendedKeyUsageOID.CLIENT_AUTH
        )
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
            .issuer_name(self.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        )
        if server:
            san = x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))])
            builder = builder.add_extension(san, critical=False)
        cert = builder.sign(self.key, hashes.SHA256())
        cert_path = self.folder / f"{self.name}-{subject}.pem"
        key_path = self.folder / f"{self.name}-{subject}.key"
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_path.write_bytes(_pem(key))
        return cert_path, key_path


def _pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def authority(folder: Path, name: str) -> Authority:
    """A fresh self-signed CA."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{name} test CA")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )
    found = Authority(folder, name, key, cert)
    found.ca_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return found


@dataclass
class Tls:
    """A gateway whose BaRS door listens over mTLS on ``port``; the proxy's CA and another."""

    port: int
    plain_port: int
    proxy_ca: Authority
    other_ca: Authority
    server_ca: Authority
    sender: Sender

    def client_context(self, ca: Authority | None) -> ssl.SSLContext:
        """What a client trusts (our server CA) and, from ``ca``, the certificate it shows."""
        context = ssl.create_default_context(cafile=str(self.server_ca.ca_file))
        if ca is not None:
            cert, key = ca.issue("sender", server=False)
            context.load_cert_chain(str(cert), str(key))
        return context

    def url(self, path: str, scheme: str = "https") -> str:
        return f"{scheme}://127.0.0.1:{self.port}{BARS_ROOT_PATH}{path}"


def tls_section(port: int, cert: Path, key: Path, ca: Path) -> str:
    return f"""
bars:
  service_root: https://127.0.0.1:{port}{BARS_ROOT_PATH}
  targets:
    - {{system: "{DOS}", value: "{DOS_ID}", service: "918999198999"}}
  tls:
    enabled: true
    host: 127.0.0.1
    port: {port}
    cert_file: {cert}
    key_file: {key}
    ca_file: {ca}
"""


@pytest.fixture
async def tls(tmp_path: Path, unused_tcp_port_factory: Callable[[], int]) -> AsyncIterator[Tls]:
    """A gateway on 127.0.0.1: STU3 on a plain port, BaRS on its own mTLS port."""
    server_ca, proxy_ca = authority(tmp_path, "server"), authority(tmp_path, "proxy")
    cert, key = server_ca.issue("gateway", server=True)
    plain, port = unused_tcp_port_factory(), unused_tcp_port_factory()
    path = write_config(tmp_path, plain)
    with path.open("a", encoding="utf-8") as handle:
        handle.write(tls_section(port, cert, key, proxy_ca.ca_file))
    settings = load_config(path)
    server = GatewayTestServer(create_app(settings, path), host="127.0.0.1", port=plain)
    client: TestClient[web.Request, web.Application] = TestClient(server)
    await client.start_server()
    try:
        yield Tls(
            port, plain, proxy_ca, authority(tmp_path, "other"), server_ca, Sender(client, settings)
        )
    finally:
        await client.close()


async def test_a_client_with_a_certificate_from_the_ca_is_served(tls: Tls) -> None:
    """A client certificate signed by bars.tls.ca_file gets the CapabilityStatement and slots."""
    context = tls.client_context(tls.proxy_ca)
    start = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
    params = [
        ("status", "free"),
        ("start", "ge" + start.isoformat(timespec="seconds")),
        ("start", "le" + (start + dt.timedelta(days=2)).isoformat(timespec="seconds")),
        ("_include", "Slot:schedule"),
        ("_include", "Schedule:actor:HealthcareService"),
    ]
    headers = tls.sender.headers()
    async with aiohttp.ClientSession() as session:
        async with session.get(tls.url("/metadata"), headers=headers, ssl=context) as resp:
            assert resp.status == 200
            assert (await resp.json(content_type=None))["resourceType"] == "CapabilityStatement"
        slots = session.get(tls.url("/Slot"), params=params, headers=headers, ssl=context)
        async with slots as resp:
            assert resp.status == 200, await resp.text()
            bundle = await resp.json(content_type=None)
            assert any(e["resource"]["resourceType"] == "Slot" for e in bundle["entry"])
            assert resp.headers["X-Request-Id"] == headers["X-Request-Id"]


async def test_over_mutual_tls_the_capability_statement_states_certificates(tls: Tls) -> None:
    """/metadata over mTLS: rest.security names Certificates, as the published example does."""
    example = wire.load(CAPABILITY_EXAMPLE.read_bytes(), WireFormat.XML)
    context = tls.client_context(tls.proxy_ca)
    async with aiohttp.ClientSession() as session:
        get = session.get(tls.url("/metadata"), headers=tls.sender.headers(), ssl=context)
        async with get as resp:
            assert resp.status == 200, await resp.text()
            statement = await resp.json(content_type=None)
    CapabilityStatement.model_validate(statement)
    security = statement["rest"][0]["security"]
    assert security["service"] == example["rest"][0]["security"]["service"]
    assert "certificate" in security["description"]


@pytest.mark.parametrize("who", ["no certificate", "another CA"])
async def test_a_client_without_a_certificate_from_the_ca_is_refused(tls: Tls, who: str) -> None:
    """No client certificate, or one from another CA: the TLS handshake fails, nothing is served."""
    context = tls.client_context(None if who == "no certificate" else tls.other_ca)
    async with aiohttp.ClientSession() as session:
        with pytest.raises((aiohttp.ClientError, ssl.SSLError, ConnectionError)):
            async with session.get(
                tls.url("/metadata"), headers=tls.sender.headers(), ssl=context
            ) as resp:
                await resp.read()


async def test_plain_http_to_the_tls_port_fails(tls: Tls) -> None:
    """HTTP without TLS to the mTLS port gets no answer from the door."""
    async with aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.ClientError):
            async with session.get(
                tls.url("/metadata", "http"), headers=tls.sender.headers()
            ) as resp:
                await resp.read()


async def test_with_tls_on_the_door_is_not_served_on_the_plain_port(tls: Tls) -> None:
    """With bars.tls enabled the plain listener does not serve the BaRS door (no bypass)."""
    resp = await tls.sender.get("/metadata")
    assert resp.status == 404


def test_check_config_names_a_missing_tls_file_and_a_plain_service_root(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """check-config: a TLS file that does not exist, and an http:// service root, are named."""
    shutil.copytree(ROOT / "config", tmp_path / "config")
    shutil.copytree(ROOT / "mappings", tmp_path / "mappings")
    config = tmp_path / "config/demo.yaml"
    ca = authority(tmp_path, "proxy").ca_file
    text = config.read_text()
    head, _, rest = text.partition("\nbars:\n")
    assert rest, "the demo configuration has a bars: section"
    section = (
        "\nbars:\n  tls:\n    enabled: true\n    port: 8443\n"
        f"    cert_file: {tmp_path}/absent.pem\n    key_file: {tmp_path}/absent.key\n"
        f"    ca_file: {ca}\n"
    )
    config.write_text(head + section + rest)
    assert main(["check-config", str(config)]) == 1
    err = capsys.readouterr().err
    assert "bars: TLS: cert_file" in err and "does not exist" in err
    assert "service_root must be https://<host>:8443/bars/FHIR/R4" in err


def test_tls_enabled_without_its_files_is_a_configuration_error(tmp_path: Path) -> None:
    """bars.tls.enabled without cert_file, key_file or ca_file is refused, naming them."""
    from gateway.config import BarsTlsSettings

    with pytest.raises(ValueError, match="cert_file, key_file, ca_file is not set"):
        BarsTlsSettings(enabled=True)


async def test_requests_over_the_tls_port_are_counted_in_the_gateways_metrics(tls: Tls) -> None:
    """A BaRS request over the mTLS listener is counted in /metrics on the main listener."""
    context = tls.client_context(tls.proxy_ca)
    headers = tls.sender.headers()
    async with aiohttp.ClientSession() as session:
        async with session.get(tls.url("/metadata"), headers=headers, ssl=context) as resp:
            assert resp.status == 200
        async with session.get(f"http://127.0.0.1:{tls.plain_port}/metrics") as resp:
            scrape = await resp.text()
    counted = [
        line
        for line in scrape.splitlines()
        if line.startswith("uec_gateway_http_requests_total{") and 'door="bars"' in line
    ]
    assert counted and all(line.endswith(" 1.0") for line in counted), counted
