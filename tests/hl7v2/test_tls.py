"""MLLP over TLS: the adapter verifies the PAS's certificate and talks through it."""

from __future__ import annotations

import datetime as dt
import ssl
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from adapters import errors
from adapters.domain import SlotQuery
from adapters.hl7v2.peer import PasPeer
from tests.contract.builders import call_context
from tests.hl7v2.helpers import UTC_SERVICE, adapter_over


def _self_signed(folder: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "pas.pem", folder / "pas.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


async def test_search_over_tls_and_an_untrusted_pas_is_refused(tmp_path: Path) -> None:
    """With the PAS's CA the search works over TLS; without it the PAS is unavailable."""
    cert, key = _self_signed(tmp_path)
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(cert, key)
    peer = await PasPeer.start(str(tmp_path / "pas.sqlite3"), horizon_days=2, tls=server)
    try:
        tls = {"enabled": True, "ca_file": str(cert), "server_hostname": "localhost"}
        # A TLS handshake on a busy machine can take a while: the answer is waited for
        # longer than the suite's usual second (the untrusted case fails at the handshake).
        async with adapter_over(
            peer, tmp_path, tls=tls, listen=None, ack_timeout_s=10.0
        ) as adapter:
            result = await adapter.search_slots(SlotQuery(service_id=UTC_SERVICE), call_context())
            assert result.slots
        untrusted = {"enabled": True, "server_hostname": "localhost"}
        async with adapter_over(
            peer, tmp_path, tls=untrusted, listen=None, database=":memory:"
        ) as adapter:
            with pytest.raises(errors.SupplierUnavailable):
                await adapter.search_slots(SlotQuery(service_id=UTC_SERVICE), call_context())
    finally:
        await peer.close()
