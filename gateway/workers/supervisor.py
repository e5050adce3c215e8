"""The supervisor: starts N workers, says serving once all are bound, restarts the dead.

- Start: every worker is started at once; the serving line (``_serve.announce``,
  naming how many workers) is printed only when each has said ``ready``. If one
  says ``failed`` (or ends before ready), the others are stopped and the
  supervisor exits 1 with that worker's one-line reason.
- Serve: a worker that dies is restarted after a short pause (``restarts.py``);
  one that dies 5 times within a minute stops the supervisor (exit 1, one line).
  Events ``gateway_worker_died``, ``gateway_worker_restarting``,
  ``gateway_worker_restarted`` carry worker indexes, pids and exit statuses only.
- Stop: SIGINT or SIGTERM sends SIGTERM to every worker, each of which finishes
  its in-flight requests as one process does; exit 0 once all have ended (those
  still running after ``STOP_GRACE_S`` are killed). SIGHUP is passed to every
  worker (each reloads), and a worker's ``POST /admin/reload`` is passed on as
  SIGHUP to the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import structlog

from gateway import _serve
from gateway.config import Settings
from gateway.workers import preflight
from gateway.workers.process import Address, WorkerFailed, WorkerProcess, exit_text
from gateway.workers.restarts import Restarts

log = structlog.get_logger(__name__)

#: Longest wait for the workers to finish in-flight requests once told to stop.
STOP_GRACE_S = 75.0


@dataclass(frozen=True)
class Plan:
    """What ``serve --workers N`` was asked for."""

    settings: Settings
    config_path: Path
    host: str
    port: int
    workers: int


def supervise(plan: Plan) -> int:
    """Serve with ``plan.workers`` processes until SIGINT/SIGTERM; the exit status."""
    json_mode = plan.settings.logging.format == "json"
    refused = preflight.refusal(plan.settings, plan.host, plan.port, plan.workers)
    if refused is not None:
        return _serve.failed(refused, json_mode)
    supervisor = Supervisor(plan)
    asyncio.run(supervisor.run())
    if supervisor.failure is not None:
        return _serve.failed(supervisor.failure, json_mode, stopped=supervisor.serving)
    return 0


@dataclass
class Supervisor:
    plan: Plan
    restarts: Restarts = field(default_factory=Restarts)
    #: Why it stopped on its own (a worker that could not start, or kept dying).
    failure: str | None = None
    #: Whether the serving line was printed (a later failure is a stop, not a failed start).
    serving: bool = False
    workers: list[WorkerProcess] = field(init=False)
    _stop: asyncio.Event = field(init=False)

    def __post_init__(self) -> None:
        address = Address(self.plan.config_path, self.plan.host, self.plan.port)
        count = self.plan.workers
        self.workers = [WorkerProcess(address, index, count) for index in range(1, count + 1)]

    async def run(self) -> None:
        self._stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, self._stop.set)
        loop.add_signal_handler(signal.SIGHUP, self._reload, None)
        try:
            url = await self._start_all()
            if url is not None:
                _serve.announce(self.plan.settings, url, self.plan.workers)
                self.serving = True
                await self._watch()
        finally:
            await self._stop_all()

    async def _start_all(self) -> str | None:
        """Every worker started and ready: the URL they serve; None if stopped or failed."""
        try:
            for worker in self.workers:
                await worker.spawn()
        except OSError as exc:
            self.failure = f"cannot start a worker: {exc.strerror or exc}"
            return None
        starting = [asyncio.create_task(w.started(self._reload)) for w in self.workers]
        stopping = asyncio.create_task(self._stop.wait())
        waiting: set[asyncio.Task[Any]] = {*starting, stopping}
        try:
            while len(waiting) > 1:
                done, waiting = await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
                if stopping in done:
                    return None
                for task in done:
                    problem = task.exception()
                    if problem is not None:
                        self.failure = self._why(problem)
                        return None
            return starting[0].result()
        finally:
            for task in (*starting, stopping):
                task.cancel()

    def _why(self, problem: BaseException) -> str:
        if isinstance(problem, WorkerFailed):
            return str(problem)
        return _serve.reason(problem, self.plan.host, self.plan.port)

    async def _watch(self) -> None:
        """Keep every worker running until told to stop, or until one keeps dying."""
        keepers = [asyncio.create_task(self._keep(worker)) for worker in self.workers]
        try:
            await self._stop.wait()
        finally:
            for keeper in keepers:
                keeper.cancel()
            await asyncio.gather(*keepers, return_exceptions=True)

    async def _keep(self, worker: WorkerProcess) -> None:
        """Restart ``worker`` whenever it dies; stop everything if it keeps dying."""
        while True:
            died = exit_text(await worker.exited())
            said = {"reason": worker.last_reason} if worker.last_reason else {}
            log.warning(
                "gateway_worker_died", worker=worker.index, pid=worker.pid, exit=died, **said
            )
            pause_s = self.restarts.died(worker.index)
            if pause_s is None:
                self.failure = f"{self.restarts.given_up(worker.index)} (last: {died})"
                self._stop.set()
                return
            log.info("gateway_worker_restarting", worker=worker.index, in_s=pause_s)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), pause_s)
                return  # told to stop during the pause
            await worker.spawn()
            with contextlib.suppress(WorkerFailed):  # its exit is the next death
                await worker.started(self._reload)
                log.info("gateway_worker_restarted", worker=worker.index, pid=worker.pid)

    def _reload(self, asking: WorkerProcess | None) -> None:
        """SIGHUP every serving worker but ``asking`` (which reloaded already)."""
        for worker in self.workers:
            if worker is not asking and worker.ready:
                worker.send(signal.SIGHUP)

    async def _stop_all(self) -> None:
        """SIGTERM to every worker, then wait (killing any past the grace period)."""
        live = [w for w in self.workers if w.running]
        for worker in live:
            worker.send(signal.SIGTERM)
        ended = asyncio.gather(*(w.exited() for w in live))
        try:
            await asyncio.wait_for(asyncio.shield(ended), STOP_GRACE_S)
        except TimeoutError:
            for worker in live:
                worker.send(signal.SIGKILL)
            await ended
        for worker in self.workers:
            await worker.close()
