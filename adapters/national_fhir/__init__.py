"""The national FHIR adapter: book into national FHIR STU3 providers through the SSP.

Configured as ``kind: national-fhir`` with options ``ssp_url``, ``asid``,
``directory`` (the CSV table described in ``mappings/national_fhir/README.md``),
``issuer``, ``organisation``, ``device`` and optionally ``sds`` (a pluggable
LDAP transport for endpoint discovery), ``timeout_s``, ``attempts``,
``cancel_attempts``, ``max_pages`` and ``log_name``; see
``config/example-national-fhir.yaml``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import aiohttp

from adapters.contract import SupplierAdapter
from adapters.national_fhir._directory import DirectoryEntry, DirectoryError, load_directory
from adapters.national_fhir._options import (
    NationalFhirConfigError,
    NationalFhirOptions,
    parse_options,
)
from adapters.national_fhir._sds import (
    EndpointResolver,
    LdapQuery,
    SdsTransport,
    endpoint_query,
    load_transport,
    party_key_query,
)
from adapters.national_fhir._token import TokenIssuer
from adapters.national_fhir._wire import Wire
from adapters.national_fhir.adapter import NationalFhirAdapter

__all__ = [
    "DirectoryEntry",
    "DirectoryError",
    "LdapQuery",
    "NationalFhirAdapter",
    "NationalFhirConfigError",
    "NationalFhirOptions",
    "SdsTransport",
    "create",
    "endpoint_query",
    "load_directory",
    "party_key_query",
]


async def create(name: str, options: Mapping[str, Any], base_dir: Path) -> SupplierAdapter:
    """Build the national FHIR adapter ``name`` (the registry's ``adapters.national_fhir:create``).

    Raises ``NationalFhirConfigError`` for bad options and ``DirectoryError`` (both
    ``ValueError``) for a bad directory table, naming its file and line.
    """
    settings = parse_options(name, options)
    directory = load_directory(settings.directory_path(base_dir))
    unrooted = sorted(e.service_id for e in directory.values() if e.service_root is None)
    if unrooted and settings.sds is None:
        raise NationalFhirConfigError(
            f"adapter '{name}' (national-fhir): services {', '.join(unrooted)} have no "
            "service_root and no 'sds' lookup is configured"
        )
    sds: SdsTransport | None = None
    if settings.sds is not None:
        sds = await load_transport(settings.sds.transport, settings.sds.options)
    resolver = EndpointResolver(sds, cache_s=settings.sds.cache_s if settings.sds else 3600.0)
    return build(name, settings, directory, resolver)


def build(
    name: str,
    settings: NationalFhirOptions,
    directory: dict[str, DirectoryEntry],
    resolver: EndpointResolver,
) -> NationalFhirAdapter:
    """The adapter from validated parts (tests use this to plug in an SDS transport)."""
    log_name = settings.log_name or name
    # The deadline is enforced per call (ctx.deadline); the session adds no timeout of its own.
    session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None))
    wire = Wire(
        session,
        ssp_url=settings.ssp_url,
        asid=settings.asid,
        tokens=TokenIssuer(settings.issuer, settings.organisation, settings.device),
        attempts=settings.attempts,
        adapter=log_name,
    )
    return NationalFhirAdapter(
        name,
        wire=wire,
        session=session,
        directory=directory,
        resolver=resolver,
        timeout_s=settings.timeout_s,
        attempts=settings.attempts,
        cancel_attempts=settings.cancel_attempts,
        max_pages=settings.max_pages,
        log_name=log_name,
    )
