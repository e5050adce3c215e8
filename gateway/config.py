"""Gateway configuration: one YAML file, validated by pydantic, loaded once.

Relative paths in the file are resolved against the file's own folder, so a
configuration and its data travel together. Secrets are never in the file:
options whose name ends in ``_env`` name an environment variable.
"""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Enforcement(enum.StrEnum):
    OFF = "off"
    WARN = "warn"
    ENFORCE = "enforce"


class JwtKey(_Section):
    """A key that verifies signed tokens: a shared secret or a public key."""

    kid: str | None = None
    algorithm: str = "RS256"
    #: Environment variable holding an HMAC secret (HS256/384/512).
    secret_env: str | None = None
    #: PEM file holding a public key (RS*/ES*/PS*).
    public_key_file: Path | None = None


class JwtSettings(_Section):
    #: fs_authentication.md: consumers send unsigned ``alg: none`` tokens today.
    allow_unsigned: bool = True
    keys: tuple[JwtKey, ...] = ()
    #: fs_authentication.md: exp is iat + 5 minutes.
    max_lifetime_s: int = 300
    clock_skew_s: int = 30
    #: Further audiences accepted besides the service root (e.g. an old host name).
    extra_audiences: tuple[str, ...] = ()


class SspSettings(_Section):
    enforcement: Enforcement = Enforcement.WARN
    #: This gateway's ASID; when set, Ssp-To must equal it.
    asid: str | None = None

    @field_validator("enforcement", mode="before")
    @classmethod
    def _yaml_off(cls, value: object) -> object:
        # YAML 1.1 reads a bare `off` as false (and `on` as true).
        if value is False:
            return Enforcement.OFF
        if value is True:
            return Enforcement.ENFORCE
        return value


class SecuritySettings(_Section):
    jwt: JwtSettings = JwtSettings()
    ssp: SspSettings = SspSettings()


class StoreSettings(_Section):
    kind: str = "sqlite"
    path: Path = Path("var/gateway.sqlite3")


class LogSettings(_Section):
    format: str = "json"
    level: str = "info"


class ServerSettings(_Section):
    host: str = "127.0.0.1"
    port: int = 8080
    #: Public service root, no trailing slash; also the JWT audience (fs_authentication.md).
    service_root: str = "http://127.0.0.1:8080/STU3/1/careconnect/appointment"
    #: Time budget for one request's work at the supplier.
    request_timeout_s: float = 10.0
    max_body_bytes: int = 1_000_000
    #: Environment variable holding the token for POST /admin/reload (disabled if unset).
    admin_token_env: str | None = None

    @field_validator("service_root")
    @classmethod
    def _no_trailing_slash(cls, value: str) -> str:
        # implementation_api.md: the Service Root URL SHALL NOT contain a trailing '/'.
        if value.endswith("/"):
            raise ValueError("service_root must not end with '/'")
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("service_root must be an absolute http(s) URL")
        return value

    @property
    def base_path(self) -> str:
        return urlsplit(self.service_root).path


class AdapterSettings(_Section):
    name: str
    kind: str
    options: dict[str, Any] = Field(default_factory=dict)


class ServiceRoute(_Section):
    """A national service id routed to one adapter instance."""

    id: str
    adapter: str
    #: ODS codes allowed to book and cancel; empty means anyone.
    allowed_consumers: tuple[str, ...] = ()


class Settings(_Section):
    server: ServerSettings = ServerSettings()
    security: SecuritySettings = SecuritySettings()
    store: StoreSettings = StoreSettings()
    logging: LogSettings = LogSettings()
    adapters: tuple[AdapterSettings, ...] = ()
    services: tuple[ServiceRoute, ...] = ()
    #: Folder that relative paths are resolved against (the config file's folder).
    base_dir: Path = Path(".")

    def resolve(self, path: Path) -> Path:
        return path if path.is_absolute() else (self.base_dir / path).resolve()


class ConfigError(ValueError):
    """The configuration file is unreadable or invalid; the message says where."""


def load(path: Path, overrides: dict[str, Any] | None = None) -> Settings:
    """Read and validate the YAML configuration at ``path``."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: {exc}") from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: the top level must be a mapping")
    raw.setdefault("base_dir", str(path.parent.resolve()))
    for key, value in (overrides or {}).items():
        raw.setdefault(key, {}).update(value)
    try:
        settings = Settings.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_describe(path, exc)) from exc
    _check_routes(path, settings)
    return settings


def _describe(path: Path, exc: ValidationError) -> str:
    lines = [f"{path}: invalid configuration"]
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"])
        lines.append(f"  {where}: {err['msg']}")
    return "\n".join(lines)


def _check_routes(path: Path, settings: Settings) -> None:
    names = [a.name for a in settings.adapters]
    dupes = {n for n in names if names.count(n) > 1}
    if dupes:
        raise ConfigError(f"{path}: adapter names used twice: {', '.join(sorted(dupes))}")
    seen: set[str] = set()
    for route in settings.services:
        if route.adapter not in names:
            raise ConfigError(
                f"{path}: service {route.id} routes to unknown adapter instance "
                f"'{route.adapter}' (configured: {', '.join(names) or 'none'})"
            )
        if route.id in seen:
            raise ConfigError(f"{path}: service {route.id} is routed twice")
        seen.add(route.id)
