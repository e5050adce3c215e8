"""What the mock national proxy is told at start-up (``ProxySettings``).

Routes are the mock's Endpoint Catalogue: a target identifier (``system|value``, as
``NHSD-Target-Identifier`` names it; End-to-end-workflow/Routing) to the receiver's
BaRS service root. Clients are the applications registered for the signed-JWT
client-credentials flow (Security-and-Authorisation/Sender): client id to
``{kid: RSA public key PEM}``.
"""

from __future__ import annotations

from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from pydantic import BaseModel, ConfigDict, Field, field_validator

from adapters.bars_toolkit.headers import Target

#: The API root every BaRS request goes to (api/booking-and-referral.yaml ``servers``).
API_ROOT = "/booking-and-referral/FHIR/R4"
TOKEN_PATH = "/oauth2/token"


class ClientTls(BaseModel):
    """The certificate the proxy shows receivers over https, and the CA it trusts them by.

    Security-and-Authorisation/Receiver: the proxy reaches receivers over TLS-MA.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    cert_file: Path
    key_file: Path
    ca_file: Path | None = None


class ProxySettings(BaseModel):
    """Everything ``create_app`` needs; validated once, then read only."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    host: str = "127.0.0.1"
    port: int = Field(ge=1, le=65535)
    #: Where senders reach the proxy, if not ``http://host:port`` (the JWT ``aud`` base).
    public_url: str | None = None
    #: ``system|value`` (a bare value is a DoS service id) -> receiver service root URL.
    routes: dict[str, str] = Field(default_factory=dict)
    #: client id -> {kid -> RSA public key PEM}.
    clients: dict[str, dict[str, str]] = Field(default_factory=dict)
    token_lifetime_s: int = Field(default=599, ge=1, le=86400)
    receiver_timeout_s: float = Field(default=30.0, gt=0)
    #: Serve ``/_control/*`` (fault injection, what was seen): tests and demos only.
    control: bool = False
    tls: ClientTls | None = None

    @field_validator("routes")
    @classmethod
    def _routes(cls, value: dict[str, str]) -> dict[str, str]:
        out: dict[str, str] = {}
        for key, url in value.items():
            target = Target.parse(key)
            if not url.startswith(("http://", "https://")):
                raise ValueError(f"route {key!r}: {url!r} is not an http(s) URL")
            out[route_key(target.system, target.value)] = url.rstrip("/")
        return out

    @field_validator("clients")
    @classmethod
    def _clients(cls, value: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
        for client, keys in value.items():
            for kid, pem in keys.items():
                try:
                    key = load_pem_public_key(pem.encode())
                except ValueError as exc:
                    raise ValueError(f"client {client!r} kid {kid!r}: not a PEM key") from exc
                if not isinstance(key, RSAPublicKey):
                    raise ValueError(f"client {client!r} kid {kid!r}: RS512 needs an RSA key")
        return value

    @property
    def base_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def token_url(self) -> str:
        """The token endpoint's URL: a client assertion's ``aud`` must be exactly this."""
        return self.base_url + TOKEN_PATH

    @property
    def api_url(self) -> str:
        return self.base_url + API_ROOT


def route_key(system: str, value: str) -> str:
    return f"{system}|{value}"
