"""What the PEM files of a TLS leg hold, read with ``cryptography``: each problem said plainly.

``ssl`` only says a chain "cannot be loaded"; an operator wants to know which file is
not a certificate, whether the key is the certificate's own, and when it runs out.
Every problem is a ``ValueError`` naming the file (never the file's contents).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes

_DAY_S = 86_400.0


@dataclass(frozen=True)
class Validity:
    """When one certificate (the first of its file) is valid, and whose it is."""

    file: Path
    subject: str
    not_before: datetime
    not_after: datetime

    def days_left(self, now: datetime) -> float:
        """Days from ``now`` until the certificate ends (negative once it has ended)."""
        return (self.not_after - now).total_seconds() / _DAY_S


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise ValueError(f"{what} {path} does not exist") from None
    except OSError as exc:
        raise ValueError(f"{what} {path} cannot be read: {exc.strerror or exc}") from None


def certificates(path: Path, what: str = "cert_file") -> list[x509.Certificate]:
    """The PEM certificates in ``path`` (a chain or a CA bundle), at least one."""
    data = _read(path, what)
    try:
        found = x509.load_pem_x509_certificates(data)
    except ValueError:
        found = []
    if not found:
        raise ValueError(f"{what} {path} holds no PEM certificate")
    return found


def private_key(path: Path, what: str = "key_file") -> PrivateKeyTypes:
    """The unencrypted PEM private key in ``path``."""
    data = _read(path, what)
    try:
        return serialization.load_pem_private_key(data, password=None)
    except TypeError:
        raise ValueError(f"{what} {path} is encrypted: the gateway needs it unencrypted") from None
    except ValueError:
        raise ValueError(f"{what} {path} holds no PEM private key") from None


def check_pair(cert_file: Path, key_file: Path | None) -> Validity:
    """The certificate's validity, once its key (in ``key_file``, or beside it) matches it."""
    cert = certificates(cert_file)[0]
    key = private_key(key_file if key_file is not None else cert_file)
    ours = cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    theirs = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    if ours != theirs:
        mine = key_file or cert_file
        raise ValueError(f"key_file {mine} is not the key of cert_file {cert_file}")
    return validity(cert_file, cert)


def validity(file: Path, cert: x509.Certificate) -> Validity:
    """``cert`` (read from ``file``) as a ``Validity``."""
    return Validity(
        file, cert.subject.rfc4514_string(), cert.not_valid_before_utc, cert.not_valid_after_utc
    )


def bundle(ca_file: Path) -> list[Validity]:
    """Every CA certificate of ``ca_file``, each with its validity."""
    return [validity(ca_file, cert) for cert in certificates(ca_file, "ca_file")]
