"""The ITK sender adapter (``kind: itk``): referrals to legacy providers as ITK 2.2 NHS 111 reports.

Options (``_options.py``): ``endpoint``, ``mappings`` (folder with ``providers.csv``,
``mappings/itk_sender/README.md``), ``sender_address``, ``audit_identity``, ``username``,
``service``, timeouts, ``retry`` (attempts, jittered exponential pauses), ``business_ack``
(``mode: off|await``, ``wait_s``, the listener's ``host``/``port``/``public_url``) and
``bookings`` (an adapter of another kind, by registry name, that books at the same
services: the ITK adapter itself only delivers referrals). The reference peers are
``uec-gateway simulate itk-receiver`` and ``itk-sender``.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from adapters import _http
from adapters.contract import SupplierAdapter
from adapters.itk._listener import AckListener
from adapters.itk._options import ItkConfigError, ItkOptions, parse_options
from adapters.itk._providers import Provider, load_providers
from adapters.itk.adapter import ItkSenderAdapter, tracking_id

__all__ = ["ItkConfigError", "ItkOptions", "ItkSenderAdapter", "check", "create", "tracking_id"]


def _validated(
    name: str, options: Mapping[str, Any], base_dir: Path
) -> tuple[ItkOptions, dict[str, Provider]]:
    settings = parse_options(name, options)
    return settings, load_providers(settings.mappings_path(base_dir))


def check(name: str, options: Mapping[str, Any], base_dir: Path) -> None:
    """Validate the options and the provider table without opening a listener or a connection.

    The ``bookings`` adapter's options are checked by its own kind's checker.
    """
    settings, _ = _validated(name, options, base_dir)
    if settings.bookings is not None:
        from adapters import registry

        try:
            factory_module = registry.ADAPTERS[settings.bookings.kind]
        except KeyError:
            raise ItkConfigError(
                f"adapter '{name}' (itk): bookings.kind: "
                + registry.suggest(settings.bookings.kind, list(registry.ADAPTERS))
            ) from None
        module = importlib.import_module(factory_module.partition(":")[0])
        checker = getattr(module, "check", None)
        if callable(checker):
            checker(f"{name}.bookings", settings.bookings.options, base_dir)


async def create(name: str, options: Mapping[str, Any], base_dir: Path) -> SupplierAdapter:
    """Build the ITK adapter ``name`` (the registry's ``adapters.itk:create``).

    Raises ``ItkConfigError`` or ``DataFileError`` (both ``ValueError``) for bad options or
    a bad provider table. With ``business_ack.mode: await`` the ack listener is started.
    """
    from adapters import registry
    from adapters.cda_toolkit import render_report

    settings, providers = _validated(name, options, base_dir)
    bookings = None
    if settings.bookings is not None:
        bookings = await registry.create(
            settings.bookings.kind, f"{name}.bookings", settings.bookings.options, base_dir
        )
    listener = None
    if settings.business_ack.mode == "await" and settings.business_ack.listen:
        listener = AckListener(name, settings.business_ack, settings.max_body_bytes)
        await listener.start()
    session = _http.open_session(settings.policy)
    return ItkSenderAdapter(
        name, settings, providers, session, render_report, listener=listener, bookings=bookings
    )
