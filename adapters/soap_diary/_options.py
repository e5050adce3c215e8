"""The SOAP diary adapter's options, validated once when it is created."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from pydantic import field_validator

from adapters._http_options import HttpSupplierOptions, http_url
from adapters._options import validate_options
from adapters.soap_toolkit.envelope import SoapVersion


class SoapDiaryConfigError(ValueError):
    """The adapter's options are invalid; the message names the option (never a secret)."""


class SoapDiaryOptions(HttpSupplierOptions):
    #: The DiaryService endpoint, e.g. https://diary.example.net/DiaryService.svc
    endpoint: str
    #: "1.1" (text/xml + SOAPAction) or "1.2" (application/soap+xml).
    soap_version: SoapVersion = SoapVersion.V11
    #: HTTP Basic credentials: a user name, and the variable holding the password.
    username: str | None = None
    password_env: str | None = None

    _url = field_validator("endpoint")(http_url)


def parse_options(name: str, options: Mapping[str, Any]) -> SoapDiaryOptions:
    settings = validate_options(
        SoapDiaryOptions, options, name=name, kind="soap-diary", error=SoapDiaryConfigError
    )
    if (settings.username is None) != (settings.password_env is None):
        raise SoapDiaryConfigError(
            f"adapter '{name}' (soap-diary): username and password_env go together"
        )
    return settings


def password(name: str, variable: str) -> str:
    value = os.environ.get(variable, "")
    if not value:
        raise SoapDiaryConfigError(
            f"adapter '{name}' (soap-diary): password_env: environment variable "
            f"'{variable}' is not set"
        )
    return value
