"""Adapters chosen by name from configuration, imported lazily.

Like kombu's transport aliases: a short name maps to ``module:factory``; the
module is imported only when a configuration asks for it, and an unknown name
gets a 'did you mean' hint.
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol, cast

from adapters._csvtable import every_problem
from adapters.contract import SupplierAdapter

#: Alias -> "module:factory". Adding a supplier adds one line here.
ADAPTERS: dict[str, str] = {
    "embedded": "adapters.embedded:create",
    "hl7v2": "adapters.hl7v2:create",
    "rest-diary": "adapters.rest_diary:create",
    "soap-diary": "adapters.soap_diary:create",
    "national-fhir": "adapters.national_fhir:create",
    "itk": "adapters.itk:create",
    "bars": "adapters.bars:create",
}


class UnknownAdapter(LookupError):
    """Configuration names an adapter nobody registered."""


class AdapterFactory(Protocol):
    async def __call__(
        self, name: str, options: Mapping[str, Any], base_dir: Path
    ) -> SupplierAdapter: ...


def suggest(name: str, known: list[str]) -> str:
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.5)
    hint = f"; did you mean '{close[0]}'?" if close else ""
    return f"no adapter '{name}'{hint} (known: {', '.join(sorted(known))})"


def resolve(kind: str, registry: Mapping[str, str] | None = None) -> AdapterFactory:
    """The factory registered under ``kind``; raises ``UnknownAdapter`` with a hint."""
    table = ADAPTERS if registry is None else registry
    try:
        target = table[kind]
    except KeyError:
        raise UnknownAdapter(suggest(kind, list(table))) from None
    module_name, _, attr = target.partition(":")
    module = importlib.import_module(module_name)
    return cast(AdapterFactory, getattr(module, attr))


def per_process_options(kind: str) -> tuple[str, ...]:
    """Options of ``kind`` naming a file only one process may use (its module's
    ``PER_PROCESS_OPTIONS``): several processes on one machine each get their own."""
    module = importlib.import_module(ADAPTERS[kind].partition(":")[0])
    return tuple(getattr(module, "PER_PROCESS_OPTIONS", ()))


async def check(kind: str, name: str, options: Mapping[str, Any], base_dir: Path) -> None:
    """Validate an adapter's configuration, without side effects where the adapter can.

    An adapter module may offer ``check(name, options, base_dir)`` that
    validates options and mapping tables without opening connections, files or
    listeners; otherwise the adapter is built and closed again.
    """
    factory = resolve(kind)
    module = importlib.import_module(ADAPTERS[kind].partition(":")[0])
    checker = getattr(module, "check", None)
    if callable(checker):
        checker(name, options, base_dir)
        return
    adapter = await factory(name, options, base_dir)
    await adapter.close()


async def check_every(
    kind: str, name: str, options: Mapping[str, Any], base_dir: Path
) -> Sequence[Exception]:
    """Every problem ``check`` finds: each bad mapping row or table, then any other error.

    Mapping problems are ``DataFileError``s that know their CSV file, line and column.
    """
    return await every_problem(lambda: check(kind, name, options, base_dir))


async def create(
    kind: str, name: str, options: Mapping[str, Any], base_dir: Path
) -> SupplierAdapter:
    """Build the adapter ``kind`` as instance ``name`` from its options."""
    factory = resolve(kind)
    return await factory(name, options, base_dir)
