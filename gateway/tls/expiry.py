"""Days to expiry of every certificate the gateway's listeners present or verify with.

``certificate_expiry(settings)`` lists, for ``server.tls``, ``bars.tls`` and
``hl7_front_door.tls`` (those enabled), the listener's own certificate and each CA
certificate of its ``ca_file``, with the days left from now. check-config reports
them; an alert can poll the same function. A file that cannot be read is left out
here: check-config reports it as a problem of its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from adapters.tls_toolkit import certificates, contexts
from adapters.tls_toolkit.certificates import Validity
from gateway.config import Settings

#: Where a listener's TLS options are in the configuration, and its files.
Key = tuple[str, ...]


@dataclass(frozen=True)
class CertificateExpiry:
    """One configured certificate and how long it has left."""

    #: The option naming its file, e.g. ``("server", "tls", "cert_file")``.
    key: Key
    validity: Validity
    days_left: float

    @property
    def option(self) -> str:
        return ".".join(self.key)

    @property
    def expired(self) -> bool:
        return self.days_left <= 0


def listener_files(settings: Settings) -> list[tuple[Key, Path]]:
    """(option, resolved file) of every configured listener certificate and CA bundle."""
    found: list[tuple[Key, Path | None]] = []
    if settings.server.tls is not None:
        tls = settings.server.tls
        found += [(("server", "tls", "cert_file"), tls.cert_file)]
        found += [(("server", "tls", "ca_file"), tls.ca_file)]
    if settings.bars is not None and settings.bars.tls.enabled:
        found += [(("bars", "tls", "cert_file"), settings.bars.tls.cert_file)]
        found += [(("bars", "tls", "ca_file"), settings.bars.tls.ca_file)]
    door = settings.hl7_front_door
    if door is not None and door.tls.enabled:
        found += [(("hl7_front_door", "tls", "cert_file"), door.tls.cert_file)]
        found += [(("hl7_front_door", "tls", "ca_file"), door.tls.ca_file)]
    resolved = [(key, contexts.resolve(file, settings.base_dir)) for key, file in found]
    return [(key, file) for key, file in resolved if file is not None]


def certificate_expiry(settings: Settings, now: datetime | None = None) -> list[CertificateExpiry]:
    """Every readable listener certificate (CA bundles: each CA) with its days to expiry."""
    at = now or datetime.now(UTC)
    out: list[CertificateExpiry] = []
    for key, file in listener_files(settings):
        try:
            found = certificates.certificates(file)
        except ValueError:
            continue
        if key[-1] == "cert_file":
            found = found[:1]  # the listener's own; the rest of the file is its chain
        for cert in found:
            validity = certificates.validity(file, cert)
            out.append(CertificateExpiry(key, validity, validity.days_left(at)))
    return out
