"""TLS for one MLLP leg (a client to a PAS, or a listener), validated by pydantic.

Used by the HL7 v2 adapter (its PAS connection and SIU listener) and the HL7 v2
front door (its listener). Files are relative to the configuration's folder;
an unreadable or invalid file is a ``ValueError`` (or ``FileNotFoundError``)
naming the option and the file (``adapters.tls_toolkit.contexts`` builds them).
"""

from __future__ import annotations

import ssl
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from adapters.tls_toolkit import contexts
from adapters.tls_toolkit.contexts import ClientCert


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
        return contexts.client_context(self.ca_file, self.cert_file, self.key_file, base_dir)

    def server_context(self, base_dir: Path) -> ssl.SSLContext | None:
        """The listener's context; with ``ca_file`` client certificates are required."""
        if not self.enabled:
            return None
        if not self.cert_file:
            raise ValueError("a TLS listener needs cert_file (and key_file)")
        wanted = ClientCert.REQUIRED if self.ca_file else ClientCert.NONE
        return contexts.server_context(
            self.cert_file, self.key_file, self.ca_file, wanted, base_dir
        )
