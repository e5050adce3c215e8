"""The SOAP diary adapter: a supplier's SOAP booking service ("DiaryService").

Configured as ``kind: soap-diary`` with options ``endpoint``, ``mappings``
(folder of CSV tables, ``mappings/soap_diary/README.md``), ``soap_version``
("1.1" or "1.2"), optional HTTP Basic ``username`` + ``password_env``,
``timezone`` (default Europe/London) and the limits in ``_options.py``.
The reference peer is ``python -m adapters.soap_diary.peer``.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from adapters import _http
from adapters.contract import SupplierAdapter
from adapters.diary_toolkit.mappings import load_mappings
from adapters.soap_diary._options import (
    SoapDiaryConfigError,
    SoapDiaryOptions,
    parse_options,
    password,
)
from adapters.soap_diary._wire import HostileXml
from adapters.soap_diary.adapter import SoapDiaryAdapter, booking_reference
from adapters.soap_toolkit.envelope import SoapVersion

__all__ = [
    "HostileXml",
    "SoapDiaryAdapter",
    "SoapDiaryConfigError",
    "SoapDiaryOptions",
    "SoapVersion",
    "booking_reference",
    "create",
]


async def create(name: str, options: Mapping[str, Any], base_dir: Path) -> SupplierAdapter:
    """Build the SOAP diary adapter ``name`` (the registry's ``adapters.soap_diary:create``).

    Raises ``SoapDiaryConfigError`` for bad options or an unset password variable
    and ``DataFileError`` (both ``ValueError``) for a bad mapping table.
    """
    settings = parse_options(name, options)
    maps = load_mappings(settings.mappings_path(base_dir))
    authorization = None
    if settings.username is not None and settings.password_env is not None:
        pair = f"{settings.username}:{password(name, settings.password_env)}".encode()
        authorization = "Basic " + base64.b64encode(pair).decode("ascii")
    session = _http.open_session(settings.policy)
    return SoapDiaryAdapter(name, settings, maps, authorization, session)
