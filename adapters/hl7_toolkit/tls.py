"""TLS for one MLLP leg (a client to a PAS, or a listener), validated by pydantic.

Used by the HL7 v2 adapter (its PAS connection and SIU listener) and the HL7 v2
front door (its listener). Files are relative to the configuration's folder;
an unreadable or invalid file is a ``ValueError`` (or ``FileNotFoundError``)
naming the option and the file.
"""

from __future__ import annotations

import os
import ssl
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict

T = TypeVar("T")


class _Options(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TlsOptions(_Options):
    """TLS for one MLLP leg; files are relative to the configuration's folder."""

    enabled: bool = False
    #: CA bundle that verifies the other side (system defaults when absent).
    ca_file: Path | None = None
    #: Our certificate and key (a client certificate, or the listener's own).
    cert_file: Path | None = None
    key_file: Path | None = None
    #: Name to check in the PAS's certificate (defaults to ``host``).
    server_hostname: str | None = None

    def client_context(self, base_dir: Path) -> ssl.SSLContext | None:
        if not self.enabled:
            return None
        self._files_exist(base_dir)
        ca = _path(self.ca_file, base_dir)
        context = _loaded(f"ca_file {ca}", ssl.create_default_context, cafile=ca)
        if self.cert_file:
            self._load_chain(context, base_dir)
        return context

    def server_context(self, base_dir: Path) -> ssl.SSLContext | None:
        if not self.enabled:
            return None
        if not self.cert_file:
            raise ValueError("a TLS listener needs cert_file (and key_file)")
        self._files_exist(base_dir)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self._load_chain(context, base_dir)
        if self.ca_file:
            ca = _path(self.ca_file, base_dir)
            _loaded(f"ca_file {ca}", context.load_verify_locations, ca)
            context.verify_mode = ssl.CERT_REQUIRED
        return context

    def _files_exist(self, base_dir: Path) -> None:
        """Each configured file must exist; the error names the option and the file."""
        for option in ("cert_file", "key_file", "ca_file"):
            path = _path(getattr(self, option), base_dir)
            if path is not None and not Path(path).is_file():
                raise FileNotFoundError(f"{option} {path} does not exist")

    def _load_chain(self, context: ssl.SSLContext, base_dir: Path) -> None:
        cert, key = _path(self.cert_file, base_dir) or "", _path(self.key_file, base_dir)
        what = f"cert_file {cert}" + (f" with key_file {key}" if key else "")
        _loaded(what, context.load_cert_chain, cert, key)


def _loaded(what: str, load: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``load(...)``; an unreadable or invalid file is an error naming it (``what``)."""
    try:
        return load(*args, **kwargs)
    except (OSError, ValueError) as exc:  # ssl.SSLError is an OSError
        reason = getattr(exc, "reason", None) or getattr(exc, "strerror", None) or exc
        raise ValueError(f"{what} cannot be loaded: {reason}") from None


def _path(value: Path | None, base_dir: Path) -> str | None:
    if value is None:
        return None
    return os.path.normpath(value if value.is_absolute() else base_dir / value)
