"""The REST diary adapter's options, validated once when it is created.

Secrets are never options: ``key_env`` and ``client_secret_env`` name
environment variables, read here, once.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from adapters._http_options import HttpSupplierOptions, http_url
from adapters._options import validate_options


class RestDiaryConfigError(ValueError):
    """The adapter's options are invalid; the message names the option (never a secret)."""


class _Options(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ApiKeyAuth(_Options):
    kind: Literal["api_key"]
    header: str = "X-Api-Key"
    #: Environment variable holding the key.
    key_env: str


class OAuth2Auth(_Options):
    kind: Literal["oauth2"]
    token_url: str
    client_id: str
    #: Environment variable holding the client secret.
    client_secret_env: str
    scope: str | None = None
    #: A token is renewed this long before the supplier says it expires.
    refresh_margin_s: float = Field(default=30.0, ge=0)

    _url = field_validator("token_url")(http_url)


class RestDiaryOptions(HttpSupplierOptions):
    #: The diary API root, e.g. https://diary.example.net/api/v2
    base_url: str
    auth: Annotated[ApiKeyAuth | OAuth2Auth, Field(discriminator="kind")]
    page_size: int = Field(default=100, ge=1, le=1000)
    #: Pages read per clinic in one search; beyond it the search is cut short (and logged).
    max_pages: int = Field(default=50, ge=1, le=1000)
    max_body_bytes: int = Field(default=2_000_000, ge=1024)

    _url = field_validator("base_url")(http_url)


def parse_options(name: str, options: Mapping[str, Any]) -> RestDiaryOptions:
    return validate_options(
        RestDiaryOptions, options, name=name, kind="rest-diary", error=RestDiaryConfigError
    )


def secret(name: str, option: str, variable: str, environ: Mapping[str, str] | None = None) -> str:
    """The value of environment variable ``variable``; an error names it, never its value."""
    value = (os.environ if environ is None else environ).get(variable, "")
    if not value:
        raise RestDiaryConfigError(
            f"adapter '{name}' (rest-diary): {option}: environment variable '{variable}' is not set"
        )
    return value
