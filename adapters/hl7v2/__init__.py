"""The HL7 v2 adapter: a legacy PAS reached over MLLP (``kind: hl7v2``).

Options are ``adapters.hl7v2._options.Hl7v2Options``; the mapping tables are
described in ``mappings/hl7v2/README.md``; how an integrator points the
gateway at their own PAS is in ``adapters/hl7v2/README.md``. The reference
PAS peer is ``adapters.hl7v2.peer`` (``python -m adapters.hl7v2.peer``).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from adapters import errors
from adapters.contract import SupplierAdapter
from adapters.hl7_toolkit.header import Header
from adapters.hl7_toolkit.mllp_client import MllpClient
from adapters.hl7v2._journal import Journal
from adapters.hl7v2._journal_schema import JournalTooNew
from adapters.hl7v2._link import Link
from adapters.hl7v2._options import Hl7v2ConfigError, Hl7v2Options, parse_options
from adapters.hl7v2._shadow import evaluator
from adapters.hl7v2.adapter import Hl7v2Adapter
from adapters.hl7v2.mapping import DataFileError, Mappings, load_mappings

__all__ = [
    "DataFileError",
    "Hl7v2Adapter",
    "Hl7v2ConfigError",
    "Hl7v2Options",
    "Mappings",
    "create",
    "evaluator",
    "load_mappings",
    "open_adapter",
]

#: Options naming a file one process keeps to itself (``registry.per_process_options``):
#: the journal's reconciler settles pending attempts that no ``book()`` of its own
#: process holds, so a journal shared with another live process would settle (even
#: cancel at the PAS) a booking that process is still making. Each process on one
#: machine keeps its own, as each replica does.
PER_PROCESS_OPTIONS = ("database",)


async def create(name: str, options: Mapping[str, Any], base_dir: Path) -> SupplierAdapter:
    """Build the HL7 v2 adapter ``name`` (the registry's ``adapters.hl7v2:create``).

    Raises ``Hl7v2ConfigError`` for bad options and ``DataFileError`` (both
    ``ValueError``) for a bad mapping table with its file, line and column;
    ``SupplierUnavailable`` if the journal or the SIU listener cannot be opened.
    The PAS itself is not contacted: it may come up after the gateway.
    """
    settings = parse_options(name, options)
    return await open_adapter(name, settings, base_dir)


def check(name: str, options: Mapping[str, Any], base_dir: Path) -> None:
    """Validate options, mapping tables and TLS files without opening anything.

    ``uec-gateway check-config`` uses this so that checking a live system's
    configuration never binds its SIU listener or opens its journal.
    """
    settings = parse_options(name, options)
    load_mappings(settings.mappings_path(base_dir))
    try:
        settings.tls.client_context(base_dir)
        if settings.listen:
            settings.listen.tls.server_context(base_dir)
    except (OSError, ValueError) as exc:
        raise Hl7v2ConfigError(f"adapter '{name}' (hl7v2): TLS: {exc}") from None


async def open_adapter(name: str, settings: Hl7v2Options, base_dir: Path) -> Hl7v2Adapter:
    mappings = load_mappings(settings.mappings_path(base_dir))
    try:
        client_tls = settings.tls.client_context(base_dir)
        listen_tls = settings.listen.tls.server_context(base_dir) if settings.listen else None
    except (OSError, ValueError) as exc:
        raise Hl7v2ConfigError(f"adapter '{name}' (hl7v2): TLS: {exc}") from None
    try:
        journal = await Journal.open(settings.database_path(base_dir))
    except (sqlite3.Error, OSError, JournalTooNew) as exc:
        raise errors.SupplierUnavailable(
            f"hl7v2 adapter '{name}': its journal could not be opened", supplier_detail=str(exc)
        ) from exc
    header = Header(
        settings.sending_application,
        settings.sending_facility,
        settings.receiving_application,
        settings.receiving_facility,
        settings.version,
        zone=settings.zone,
    )
    client = MllpClient(
        settings.host,
        settings.port,
        tls=client_tls,
        server_hostname=settings.tls.server_hostname or settings.host,
        max_frame=settings.max_frame_bytes,
        connect_attempts=settings.connect_attempts,
        backoff_s=settings.backoff_s,
        log_name=settings.log_name or name,
    )
    adapter = Hl7v2Adapter(Link(name, settings, mappings, journal, client, header))
    try:
        await adapter.start(listen_tls)
    except OSError as exc:
        await adapter.close()
        raise errors.SupplierUnavailable(
            f"hl7v2 adapter '{name}': the SIU listener could not start", supplier_detail=str(exc)
        ) from exc
    return adapter
