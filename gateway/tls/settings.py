"""``server.tls``: HTTPS on the main (FHIR STU3) listener; absent, the listener is plain HTTP."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator

from adapters.tls_toolkit.contexts import ClientCert

#: Days before a certificate's end from which check-config warns of it.
EXPIRY_WARNING_DAYS = 30


class ServerTlsSettings(BaseModel):
    """Our certificate and key, and whether clients must show certificates ``ca_file`` signed.

    Files are relative to the configuration's folder. ``key_file`` may be left out when
    ``cert_file`` holds the key too. TLS 1.2 is the oldest version accepted.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    cert_file: Path
    key_file: Path | None = None
    #: The CA bundle that signs the clients' certificates (needed unless client_cert: none).
    ca_file: Path | None = None
    #: none: no client certificate asked for; optional: asked for, and verified if shown;
    #: required: no certificate signed by ca_file, no connection.
    client_cert: ClientCert = ClientCert.NONE
    #: check-config warns of a listener certificate ending within this many days.
    expiry_warning_days: int = Field(default=EXPIRY_WARNING_DAYS, ge=0, le=3650)

    @model_validator(mode="after")
    def _ca_for_clients(self) -> ServerTlsSettings:
        if self.client_cert is not ClientCert.NONE and self.ca_file is None:
            raise ValueError(
                f"client_cert {self.client_cert.value} needs ca_file: the CA bundle "
                "that signs the clients' certificates"
            )
        return self
