"""What ``uec-gateway check-config`` says of the listeners' TLS files.

``server.tls``: each file exists and is readable, the certificate and key parse and
are one pair, the CA bundle parses, and the whole loads as the listener will load
it. For every listener (``server.tls``, ``bars.tls``, ``hl7_front_door.tls``): a
certificate past its end (or not yet valid) is a problem; one ending within
``server.tls.expiry_warning_days`` (30 by default) is a warning, which does not fail
the check. Each is ``file:line:column`` of the option naming the file.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from adapters.tls_toolkit import certificates, contexts
from gateway import config as config_module
from gateway.config import Examined, Settings
from gateway.tls.expiry import CertificateExpiry, certificate_expiry
from gateway.tls.listeners import listener_context
from gateway.tls.settings import EXPIRY_WARNING_DAYS


def _at(path: Path, found: Examined, key: tuple[str, ...]) -> str:
    position = config_module.where(found.marks, key)
    return f"{path}:{position[0]}:{position[1]}" if position else str(path)


def problems(
    path: Path, found: Examined, settings: Settings, now: datetime | None = None
) -> list[str]:
    """The server.tls files' problems, and every listener certificate expired or not yet valid."""
    at = now or datetime.now(UTC)
    out = _server_files(path, found, settings)
    for entry in certificate_expiry(settings, at):
        where = _at(path, found, entry.key)
        ends = entry.validity.not_after.isoformat(timespec="seconds")
        if entry.expired:
            out.append(f"{where}: {entry.option}: {_what(entry)} expired on {ends}")
        elif entry.validity.not_before > at:
            starts = entry.validity.not_before.isoformat(timespec="seconds")
            out.append(f"{where}: {entry.option}: {_what(entry)} is not valid until {starts}")
    return out


def warnings(path: Path, found: Examined | None, now: datetime | None = None) -> list[str]:
    """Every listener certificate still valid but ending within the warning period."""
    settings = found.settings if found is not None else None
    if found is None or settings is None:
        return []
    tls = settings.server.tls
    days = tls.expiry_warning_days if tls is not None else EXPIRY_WARNING_DAYS
    out = []
    for entry in certificate_expiry(settings, now or datetime.now(UTC)):
        if 0 < entry.days_left <= days:
            ends = entry.validity.not_after.isoformat(timespec="seconds")
            out.append(
                f"{_at(path, found, entry.key)}: warning: {entry.option}: {_what(entry)} "
                f"expires in {int(entry.days_left)} day(s), on {ends}"
            )
    return out


def _what(entry: CertificateExpiry) -> str:
    kind = "CA certificate" if entry.key[-1] == "ca_file" else "certificate"
    return f"{kind} {entry.validity.subject} in {entry.validity.file}"


def _server_files(path: Path, found: Examined, settings: Settings) -> list[str]:
    """server.tls: readable files, a matching pair, a CA that parses, a context that loads."""
    tls = settings.server.tls
    if tls is None:
        return []
    base = settings.base_dir
    cert, key, ca = (contexts.resolve(f, base) for f in (tls.cert_file, tls.key_file, tls.ca_file))
    out: list[str] = []
    try:
        certificates.check_pair(cert or tls.cert_file, key)
    except ValueError as exc:
        out.append(_located(path, found, exc))
    if ca is not None:
        try:
            certificates.bundle(ca)
        except ValueError as exc:
            out.append(_located(path, found, exc))
    if not out:
        try:
            listener_context(settings)
        except (OSError, ValueError) as exc:
            out.append(f"{_at(path, found, ('server', 'tls'))}: server.tls: {exc}")
    return out


def _located(path: Path, found: Examined, exc: ValueError) -> str:
    """``exc`` at the option it names first (``cert_file ...``), else at ``server.tls``."""
    option = str(exc).split(" ", 1)[0]
    key: tuple[str, ...] = ("server", "tls", option)
    if config_module.where(found.marks, key) is None:
        key = ("server", "tls")
    return f"{_at(path, found, key)}: server.tls: {exc}"
