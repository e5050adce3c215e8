"""The REST diary adapter: a supplier's proprietary JSON diary API ("Diary API v2").

Configured as ``kind: rest-diary`` with options ``base_url``, ``mappings``
(folder of CSV tables, ``mappings/rest_diary/README.md``), ``auth`` (an API key
or OAuth2 client credentials, secrets named by ``*_env`` environment
variables), ``timezone`` (default Europe/London) and the timeouts and paging
limits in ``_options.py``. The reference peer is ``python -m adapters.rest_diary.peer``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from adapters import _http
from adapters._csvtable import DataFileError
from adapters.contract import SupplierAdapter
from adapters.diary_toolkit.mappings import Mappings, load_mappings
from adapters.rest_diary._auth import ApiKey, ClientCredentials, Credentials
from adapters.rest_diary._options import (
    ApiKeyAuth,
    RestDiaryConfigError,
    RestDiaryOptions,
    parse_options,
    secret,
)
from adapters.rest_diary.adapter import RestDiaryAdapter, idempotency_key

__all__ = [
    "DataFileError",
    "Mappings",
    "RestDiaryAdapter",
    "RestDiaryConfigError",
    "RestDiaryOptions",
    "create",
    "idempotency_key",
    "load_mappings",
]


async def create(name: str, options: Mapping[str, Any], base_dir: Path) -> SupplierAdapter:
    """Build the REST diary adapter ``name`` (the registry's ``adapters.rest_diary:create``).

    Raises ``RestDiaryConfigError`` for bad options or an unset secret variable and
    ``DataFileError`` (both ``ValueError``) for a bad mapping table with its file,
    line and column. Nothing is sent to the supplier until the first call.
    """
    settings = parse_options(name, options)
    maps = load_mappings(settings.mappings_path(base_dir))
    credentials = _credentials(name, settings)
    return RestDiaryAdapter(name, settings, maps, credentials, _http.open_session(settings.policy))


def _credentials(name: str, settings: RestDiaryOptions) -> Credentials:
    auth = settings.auth
    if isinstance(auth, ApiKeyAuth):
        return ApiKey(auth.header, secret(name, "auth.key_env", auth.key_env))
    return ClientCredentials(
        auth.token_url,
        auth.client_id,
        secret(name, "auth.client_secret_env", auth.client_secret_env),
        scope=auth.scope,
        margin_s=auth.refresh_margin_s,
        policy=settings.policy,
        adapter=settings.log_name or name,
    )
