"""``uec-gateway check-config``: every problem of a configuration, in one run.

Each stage goes on whatever the earlier ones found: the file is read with
duplicate keys recorded, invalid sections are left at their defaults so routes,
secrets, adapters, mapping tables, TLS files and writable paths are still
checked. Problems are ``file:line:column: message``, the file being the YAML
configuration or, for a mapping row, the CSV file itself.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from urllib.parse import urlsplit

from adapters import registry
from adapters._csvtable import DataFileError, every_problem
from adapters.hl7_toolkit.tls import TlsOptions
from gateway import config as config_module
from gateway.circuits import unknown_routes
from gateway.config import Examined, Settings
from gateway.msgjournal import checks as journal_checks
from gateway.security import load_keys
from gateway.tls import checks as tls_checks


async def problems(path: Path, environ: Mapping[str, str]) -> tuple[list[str], Examined | None]:
    """Every problem of the configuration at ``path`` (and what could be read of it)."""
    try:
        found = config_module.examine(path)
    except config_module.ConfigError as exc:
        return list(exc.problems), None
    settings = found.settings
    if settings is None:
        return list(found.problems), found
    return [
        *found.problems,
        *config_module.missing_secrets(path, found.marks, settings, environ, found.adapter_at),
        *_keys(settings, environ),
        *await _adapters(path, found, settings),
        *await _front_door(path, found, settings),
        *await _bars(path, found, settings),
        *_registry(path, found, settings),
        *await _itk(path, found, settings),
        *_writable_paths(path, found, settings),
        *tls_checks.problems(path, found, settings),  # server.tls; every listener's expiry
        *journal_checks.problems(path, found, settings, environ),
        *_circuits(path, found, settings),
        *await _policy(settings),
    ], found


def _at(path: Path, found: Examined, where: tuple[str | int, ...]) -> str:
    position = config_module.where(found.marks, where)
    return f"{path}:{position[0]}:{position[1]}" if position else str(path)


def _keys(settings: Settings, environ: Mapping[str, str]) -> list[str]:
    # Unset secret variables are reported by missing_secrets, with their position.
    try:
        load_keys(settings.security.jwt, settings.base_dir, environ)
    except config_module.ConfigError as exc:
        return [p for p in exc.problems if "is not set" not in p]
    return []


def _problem(at: str, what: str, exc: Exception) -> str:
    """A mapping row at its own CSV position; anything else at the configuration's."""
    if isinstance(exc, DataFileError):
        return f"{exc.located()} ({what})"
    text = str(exc)
    return f"{at}: {text}" if text.startswith(what) else f"{at}: {what}: {text}"


def _unset_secret(exc: Exception) -> bool:
    # An adapter refusing an unset *_env variable: missing_secrets reports it at its option.
    text = str(exc)
    return (
        not isinstance(exc, DataFileError)
        and "environment variable" in text
        and ("is not set" in text)
    )


async def _adapters(path: Path, found: Examined, settings: Settings) -> list[str]:
    """Every adapter's options and every bad row of its mapping tables (registry.check)."""
    out: list[str] = []
    for index, item in zip(found.adapter_at, settings.adapters, strict=True):
        at = _at(path, found, ("adapters", index))
        for exc in await registry.check_every(
            item.kind, item.name, item.options, settings.base_dir
        ):
            if not _unset_secret(exc):
                out.append(_problem(at, f"adapter '{item.name}'", exc))
    return out


async def _front_door(path: Path, found: Examined, settings: Settings) -> list[str]:
    """The HL7 front door's tables and TLS files, when the front door is configured."""
    door = settings.hl7_front_door
    if door is None:
        return []
    from gateway.hl7.tables import load_tables

    async def tables() -> None:
        load_tables(settings.resolve(door.mappings))

    at = _at(path, found, ("hl7_front_door", "mappings"))
    out = [_problem(at, "hl7_front_door", exc) for exc in await every_problem(tables)]
    tls = TlsOptions.model_validate(door.tls.model_dump())
    try:
        tls.server_context(settings.base_dir)
    except (OSError, ValueError) as exc:
        out.append(f"{_at(path, found, ('hl7_front_door', 'tls'))}: hl7_front_door: TLS: {exc}")
    return out + _notify_tls(path, found, settings)


def _notify_tls(path: Path, found: Examined, settings: Settings) -> list[str]:
    """Each consumer's outbound notify TLS files load (gateway/hl7/notify.py)."""
    door = settings.hl7_front_door
    out: list[str] = []
    for index, consumer in enumerate(door.consumers if door else ()):
        if consumer.notify is None:
            continue
        tls = TlsOptions.model_validate(consumer.notify.tls.model_dump())
        try:
            tls.client_context(settings.base_dir)
        except (OSError, ValueError) as exc:
            at = _at(path, found, ("hl7_front_door", "consumers", index, "notify", "tls"))
            who = consumer.sending_facility
            out.append(f"{at}: hl7_front_door: consumer {who}: notify TLS: {exc}")
    return out


async def _bars(path: Path, found: Examined, settings: Settings) -> list[str]:
    """The BaRS door's targets table, when the door is configured."""
    bars = settings.bars
    if bars is None:
        return []
    from gateway.bars.targets import load_targets, mount_problem

    async def targets() -> None:
        load_targets(settings, bars)

    at = _at(path, found, ("bars", "targets_file"))
    out = [_problem(at, "bars", exc) for exc in await every_problem(targets)]
    problem = mount_problem(settings)
    if problem:
        out.append(f"{_at(path, found, ('bars', 'service_root'))}: {problem}")
    return out + _bars_tls(path, found, settings)


async def _itk(path: Path, found: Examined, settings: Settings) -> list[str]:
    """Every bad row of the ITK door's tables (mappings/itk/README.md)."""
    itk = settings.itk
    if itk is None:
        return []
    from gateway.itk.door import tables_for

    async def tables() -> None:
        tables_for(settings, itk)

    at = _at(path, found, ("itk", "mappings"))
    return [_problem(at, "itk", exc) for exc in await every_problem(tables)]


def _bars_tls(path: Path, found: Examined, settings: Settings) -> list[str]:
    """bars.tls: loadable files, and a service root the mTLS listener really serves."""
    bars = settings.bars
    if bars is None or not bars.tls.enabled:
        return []
    from gateway.bars.listener import server_context

    at = _at(path, found, ("bars", "tls"))
    out = []
    try:
        server_context(bars.tls, settings.base_dir)
    except (OSError, ValueError) as exc:
        out.append(f"{at}: bars: TLS: {exc}")
    root = urlsplit(bars.service_root)
    if root.scheme != "https" or (root.port or 443) != bars.tls.port:
        out.append(
            f"{_at(path, found, ('bars', 'service_root'))}: bars: with bars.tls enabled the "
            f"door is served only over mTLS on port {bars.tls.port}, so service_root must be "
            f"https://<host>:{bars.tls.port}{bars.base_path} (it is {bars.service_root})"
        )
    return out


def _registry(path: Path, found: Examined, settings: Settings) -> list[str]:
    """The registry must be another server than this gateway (pointers would go nowhere)."""
    registry = settings.registry
    if registry is None or not registry.enabled:
        return []
    ours = {urlsplit(settings.server.service_root).netloc}
    ours.add(f"{settings.server.host}:{settings.server.port}")
    if settings.bars is not None:
        ours.add(urlsplit(settings.bars.service_root).netloc)
    if urlsplit(registry.url).netloc in ours:
        return [
            f"{_at(path, found, ('registry', 'url'))}: registry.url {registry.url} is this "
            "gateway; name the national registry (or `uec-gateway simulate registry`)"
        ]
    return []


async def _policy(settings: Settings) -> list[str]:
    """The policy folder's files, and every policy service routed (gateway/policy/checks.py)."""
    if settings.policy is None:
        return []
    from gateway.policy import checks as policy_checks

    folder = settings.resolve(settings.policy.folder)
    return await policy_checks.problems(folder, (route.id for route in settings.services))


def _circuits(path: Path, found: Examined, settings: Settings) -> list[str]:
    names = [a.name for a in settings.adapters]
    unknown = unknown_routes(settings.circuits, names)
    return [f"{_at(path, found, ('circuits', 'adapters', key))}: {text}" for key, text in unknown]


def _writable_paths(path: Path, found: Examined, settings: Settings) -> list[str]:
    """The store and each adapter's own database (its diary or journal) must be writable."""
    out = []
    for where, label, file in writable_paths(settings, found.adapter_at, found.invalid):
        reason = unwritable(file)
        if reason:
            out.append(f"{_at(path, found, where)}: {label}: {reason}")
    return out


def writable_paths(
    settings: Settings,
    adapter_at: Sequence[int] | None = None,
    invalid: frozenset[str] = frozenset(),
) -> list[tuple[tuple[str | int, ...], str, Path]]:
    """(where in the file, what, path) of every SQLite file the gateway will write.

    An adapter's ``database`` option is its own state (the embedded diary, the
    HL7 v2 journal) by the adapters' convention; ``:memory:`` (there or as
    ``store.path``) writes nothing.
    """
    wanted: list[tuple[tuple[str | int, ...], str, Path]] = []
    if "store" not in invalid and settings.store.kind == "sqlite" and not settings.store.in_memory:
        wanted.append((("store", "path"), "store.path", settings.resolve(settings.store.path)))
    at = range(len(settings.adapters)) if adapter_at is None else adapter_at
    for index, item in zip(at, settings.adapters, strict=True):
        database = item.options.get("database")
        if isinstance(database, str) and database and database != ":memory:":
            where = ("adapters", index, "options", "database")
            label = f"adapter '{item.name}': database"
            wanted.append((where, label, settings.resolve(Path(database))))
    return wanted


def unwritable(file: Path) -> str | None:
    """Why an SQLite file could not be created or written at ``file``; None if it can.

    SQLite also writes beside the file (``-wal``, ``-shm``), so its folder must be
    writable too; a folder that does not exist yet must be creatable. The probe
    is real (a temporary file, removed at once), as permissions alone miss
    read-only file systems.
    """
    if file.is_dir():
        return f"{file} is a folder, not a file"
    folder = file.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir():
        return f"{folder} is a file, not a folder, so {file} cannot be created"
    try:
        with tempfile.TemporaryFile(dir=folder):
            pass
        if file.exists():
            with file.open("r+b"):
                pass
    except OSError as exc:
        target = file if file.exists() else folder
        return f"{target} is not writable ({exc.strerror or exc})"
    if not os.access(folder, os.W_OK | os.X_OK):
        return f"{folder} is not writable"
    return None
