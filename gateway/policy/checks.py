"""``uec-gateway check-config`` on the policy folder: every problem, ``file:line:column``.

Loading stops at the first bad file (and the regions table at its first bad row); the
check goes on: ``policy.yaml``'s every invalid value, every bad row of the regions
table, then what only the two together show, and each policy service the
configuration does not route (``services:``), which is a mistaken or stale id.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from adapters._csvtable import DataFileError, every_problem
from gateway._yaml import Marks
from gateway.policy.model import (
    POLICY_FILE,
    PolicyError,
    _located,
    _read_yaml,
    _validated,
    load_files,
    load_regions,
)


async def problems(folder: Path, routed: Iterable[str]) -> list[str]:
    """Every problem of the policy folder; ``routed``: the service ids ``services:`` routes."""
    path = folder / POLICY_FILE
    try:
        raw, marks = _read_yaml(path)
    except PolicyError as exc:
        return list(exc.problems)
    out: list[str] = []
    try:
        name = _validated(path, raw, marks).regions
    except PolicyError as exc:
        out += exc.problems
        given = raw.get("regions", "regions.csv")
        name = given if isinstance(given, str) else "regions.csv"

    async def regions() -> None:
        load_regions(folder, name)

    for bad in await every_problem(regions):
        out.append(bad.located() if isinstance(bad, DataFileError) else f"{folder}: {bad}")
    if not out:
        try:
            load_files(folder)
        except PolicyError as exc:
            out += exc.problems
    return out + _unrouted(path, raw, marks, set(routed))


def _unrouted(path: Path, raw: dict[str, Any], marks: Marks, routed: set[str]) -> list[str]:
    services = raw.get("services")
    if not isinstance(services, dict):
        return []
    return [
        f"{_located(path, marks, ('services', sid))}: service '{sid}' has a policy but is not "
        "routed by services: in the configuration (a mistyped or stale service id?)"
        for sid in map(str, services)
        if sid not in routed
    ]
