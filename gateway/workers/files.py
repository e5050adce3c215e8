"""Each worker's own copy of the files an adapter keeps to one process.

Most adapter state is shared by every worker: the embedded diary is the
supplier's diary, so all of them book in one file. An adapter module names the
options whose file is one process's own (``PER_PROCESS_OPTIONS``, e.g. the
HL7 v2 journal); worker 1 uses the configured file, so ``--workers 1`` and
worker 1 of many keep the same one, and worker ``i`` uses ``<stem>.worker-<i><suffix>``
beside it. The mapping version is computed from the configuration, not from
these names, so every worker reports the same one.
"""

from __future__ import annotations

from pathlib import PurePath
from typing import Any

from adapters.registry import per_process_options
from gateway.config import MEMORY, AdapterSettings


def own_file(location: str, index: int) -> str:
    """Worker ``index``'s file for ``location`` (worker 1's is ``location`` itself)."""
    if index == 1 or location == MEMORY:
        return location
    path = PurePath(location)
    return str(path.with_name(f"{path.stem}.worker-{index}{path.suffix}"))


def worker_options(item: AdapterSettings, index: int) -> dict[str, Any]:
    """``item``'s options as worker ``index`` builds the adapter with."""
    options = dict(item.options)
    for name in per_process_options(item.kind):
        value = options.get(name)
        if isinstance(value, str) and value:
            options[name] = own_file(value, index)
    return options
