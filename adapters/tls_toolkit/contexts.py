"""SSL contexts of a listener or a client leg, from PEM files; errors name the file.

A file that is missing is a ``FileNotFoundError``; one that cannot be loaded (not PEM,
a key that does not match, unreadable) is a ``ValueError`` naming the option and the
file, so a start-up failure or ``check-config`` says which file is wrong.
"""

from __future__ import annotations

import enum
import os
import ssl
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

#: No listener or client leg of the gateway speaks anything older.
MINIMUM_VERSION = ssl.TLSVersion.TLSv1_2


class ClientCert(enum.StrEnum):
    """What a listener asks of its clients' certificates."""

    #: None asked for: any client may connect.
    NONE = "none"
    #: Asked for: a client without one is served; one with a certificate the CA did not
    #: sign is refused at the handshake.
    OPTIONAL = "optional"
    #: Demanded: no certificate, or one the CA did not sign, is refused at the handshake.
    REQUIRED = "required"


_VERIFY = {
    ClientCert.NONE: ssl.CERT_NONE,
    ClientCert.OPTIONAL: ssl.CERT_OPTIONAL,
    ClientCert.REQUIRED: ssl.CERT_REQUIRED,
}


def resolve(value: Path | None, base_dir: Path) -> Path | None:
    """``value`` relative to the configuration's folder (None stays None)."""
    if value is None:
        return None
    return Path(os.path.normpath(value if value.is_absolute() else base_dir / value))


def server_context(
    cert_file: Path,
    key_file: Path | None,
    ca_file: Path | None,
    client_cert: ClientCert,
    base_dir: Path,
) -> ssl.SSLContext:
    """A listener's context: our chain, TLS 1.2 or later, clients verified against ``ca_file``."""
    if client_cert is not ClientCert.NONE and ca_file is None:
        raise ValueError(f"client_cert {client_cert.value} needs ca_file (the clients' CA)")
    files = {"cert_file": cert_file, "key_file": key_file, "ca_file": ca_file}
    found = {option: resolve(path, base_dir) for option, path in files.items()}
    _exist(found)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = MINIMUM_VERSION
    _load_chain(context, found["cert_file"], found["key_file"])
    ca = found["ca_file"]
    if ca is not None:
        _loaded(f"ca_file {ca}", context.load_verify_locations, str(ca))
        context.verify_mode = _VERIFY[client_cert]
    return context


def client_context(
    ca_file: Path | None, cert_file: Path | None, key_file: Path | None, base_dir: Path
) -> ssl.SSLContext:
    """A client leg's context: the server verified (system CAs without ``ca_file``)."""
    files = {"cert_file": cert_file, "key_file": key_file, "ca_file": ca_file}
    found = {option: resolve(path, base_dir) for option, path in files.items()}
    _exist(found)
    ca = found["ca_file"]
    cafile = str(ca) if ca is not None else None
    context = _loaded(f"ca_file {ca}", ssl.create_default_context, cafile=cafile)
    context.minimum_version = MINIMUM_VERSION
    if found["cert_file"] is not None:
        _load_chain(context, found["cert_file"], found["key_file"])
    return context


def _exist(files: dict[str, Path | None]) -> None:
    """Each configured file must exist; the error names the option and the file."""
    for option, path in files.items():
        if path is not None and not path.is_file():
            raise FileNotFoundError(f"{option} {path} does not exist")


def _load_chain(context: ssl.SSLContext, cert: Path | None, key: Path | None) -> None:
    what = f"cert_file {cert}" + (f" with key_file {key}" if key else "")
    _loaded(what, context.load_cert_chain, str(cert), str(key) if key else None)


def _loaded(what: str, load: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``load(...)``; an unreadable or invalid file is an error naming it (``what``)."""
    try:
        return load(*args, **kwargs)
    except (OSError, ValueError) as exc:  # ssl.SSLError is an OSError
        reason = getattr(exc, "reason", None) or getattr(exc, "strerror", None) or exc
        raise ValueError(f"{what} cannot be loaded: {reason}") from None
