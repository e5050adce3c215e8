"""``uec-gateway serve --workers N``: N gateway processes serving one port, one supervisor.

One process serves on one CPU, and slot search spends its time there (building
and serialising FHIR searchsets), so N workers search on N CPUs. Each worker is a
whole gateway, a replica on the same machine: the store is shared (an SQLite
file, ``Store.shared``, or PostgreSQL) and everything that must hold across
replicas already rests on it (ledger claims and leases, the appointment lock of
``gateway/_mutex.py``, slot homes, outbox and journal leases;
docs/operations.md). ``--workers 1``, the default (``server.workers``), is one
process with no supervisor, exactly as before.

Why subprocesses of this interpreter (``python -m gateway.workers.child``) and
not ``multiprocessing``: a worker is a process of its own from its first line,
inheriting only its arguments, the environment, stdout, stderr and one file
descriptor, so nothing has to be pickled, no module is imported again under
another ``__main__``, and the supervisor never builds the application. asyncio's
subprocess support gives the supervisor each exit without a thread, a session of
the worker's own keeps a terminal's Ctrl-C from reaching it behind the
supervisor's back, and a Unix socket pair (``control.py``) carries ``ready``,
``failed`` and ``reload`` and, by closing, stops a worker whose supervisor died.

Listeners, all bound by every worker, so none is a single point:

- the FHIR STU3 HTTP port, with the BaRS and ITK doors mounted on it: SO_REUSEPORT
  (``web.TCPSite(..., reuse_port=True)``); the kernel spreads new connections;
- the HL7 v2 MLLP front door (``hl7_front_door``) and the BaRS mTLS listener
  (``bars.tls``): SO_REUSEPORT too; a connection stays with one worker, so the
  messages on it are answered in order, as by one process;
- the adapters' own listeners: the HL7 v2 SIU listener and the BaRS callback
  bind a fixed port with SO_REUSEPORT (whichever worker takes a message applies it
  to the shared store); the ITK business-ack listener does too, but an ack must
  reach the worker whose send waits for it, so leave its port 0 (each worker
  listens on a port of its own and names it in ``wsa:ReplyTo``).

The supervisor refuses what N processes cannot share (``preflight.py``), and each
worker keeps an adapter's per-process files to itself (``files.py``).
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
