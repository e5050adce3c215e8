"""``uec-gateway serve --workers N``: N gateway processes serving one port, one supervisor.

(The full design note is written below, once the supervisor exists.)
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from gateway.config import AdapterSettings
from gateway.workers.files import worker_options

__all__ = ["SERVING", "Worker"]


def _nobody() -> None:
    return None


@dataclass(frozen=True)
class Worker:
    """This process as worker ``index`` (from 1) of ``of`` serving one port."""

    index: int
    of: int
    pid: int = field(default_factory=os.getpid)
    #: Ask the supervisor to have every other worker reload (after one reloaded here).
    reload_others: Callable[[], None] = field(default=_nobody, compare=False, repr=False)

    def health(self) -> dict[str, int]:
        """What ``GET /health`` says of this process: which worker answered."""
        return {"pid": self.pid, "index": self.index, "of": self.of}

    def adapter_options(self, item: AdapterSettings) -> dict[str, Any]:
        """The options this worker builds ``item`` with (its own per-process files)."""
        return worker_options(item, self.index)


#: The worker this application runs as; absent when ``serve`` runs one process.
SERVING = web.AppKey("serving_worker", Worker)
