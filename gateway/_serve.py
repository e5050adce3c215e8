"""``uec-gateway serve``: start, say so once the port is bound, stop on SIGINT/SIGTERM.

A process supervisor or an integrator reads two things from a starting gateway:
the "serving" line, which must mean the port really is bound (so it is printed
after the listener starts, and is a JSON log event in JSON log mode), and, if it
cannot start, one line saying why (port in use, store not writable, a TLS file
missing, a bad configuration) and a non-zero exit, never a traceback.

With ``--workers N`` (or ``server.workers``) above 1 this process is the
supervisor of N workers (``gateway/workers/``) and says both things for all of
them; each worker runs ``run_worker``, the same serving code, on a shared port.
"""

from __future__ import annotations

import asyncio
import errno
import signal
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import structlog
from aiohttp import web

from adapters._csvtable import DataFileError
from gateway import config as config_module
from gateway import logs
from gateway._checks import unwritable, writable_paths
from gateway.workers.control import FAILED as FAILED_LINE
from gateway.workers.control import READY as READY_LINE

if TYPE_CHECKING:
    from gateway.workers.child import Child

log = structlog.get_logger(__name__)

#: Exit status when the gateway cannot start or stops on an error.
FAILED = 1


@dataclass
class _State:
    #: Set once the port is bound: a later failure is a stop, not a failed start.
    serving: bool = False


def run(config_path: Path, host: str | None, port: int | None, workers: int | None = None) -> int:
    """Serve until SIGINT/SIGTERM; 0 after a clean stop, 1 (one line on stderr) on failure."""
    try:
        settings = config_module.load(config_path)
    except config_module.ConfigError as exc:
        return failed(_config_problem(exc, config_path), json_mode=False)
    json_mode = settings.logging.format == "json"
    logs.configure(settings.logging.format, settings.logging.level)
    host = host or settings.server.host
    port = port if port is not None else settings.server.port
    for _, label, file in writable_paths(settings):
        problem = unwritable(file)
        if problem:
            return failed(f"{label}: {problem}", json_mode)
    count = workers or settings.server.workers
    if count > 1:
        # Imported here: one process needs none of it.
        from gateway.workers.supervisor import Plan, supervise

        return supervise(Plan(settings, config_path, host, port, count))
    state = _State()
    try:
        asyncio.run(_serve(settings, config_path, host, port, state))
    except Exception as exc:  # one line, whatever failed; the cause is in the message
        return failed(reason(exc, host, port), json_mode, stopped=state.serving)
    return 0


def run_worker(config_path: Path, host: str, port: int, child: Child) -> int:
    """Serve as one worker: ``ready``/``failed`` are said to the supervisor, not printed."""
    try:
        settings = config_module.load(config_path)
    except config_module.ConfigError as exc:
        child.end.say(FAILED_LINE, _config_problem(exc, config_path))
        return FAILED
    logs.configure(settings.logging.format, settings.logging.level)
    state = _State()
    try:
        asyncio.run(_serve(settings, config_path, host, port, state, child))
    except Exception as exc:
        why = reason(exc, host, port)
        if not state.serving:
            child.end.say(FAILED_LINE, why)  # the supervisor prints it, once
            return FAILED
        json_mode = settings.logging.format == "json"
        return failed(f"worker {child.worker.index}: {why}", json_mode, stopped=True)
    return 0


def _config_problem(exc: config_module.ConfigError, config_path: Path) -> str:
    more = len(exc.problems) - 1
    extra = f" (and {more} more: run uec-gateway check-config {config_path})" if more else ""
    return f"{exc.problems[0] if exc.problems else exc}{extra}"


async def _serve(
    settings: config_module.Settings,
    config_path: Path,
    host: str,
    port: int,
    state: _State,
    child: Child | None = None,
) -> None:
    from gateway.app import create_app  # imported here: building the app reads key files
    from gateway.http.server import GatewayRunner
    from gateway.tls.listeners import listener_context

    worker = child.worker if child is not None else None
    tls = listener_context(settings)  # server.tls: HTTPS (a bad file stops the start here)
    runner = GatewayRunner(create_app(settings, config_path, worker), access_log=None)
    try:
        await runner.setup()  # the store, the adapters and the HL7 front door start here
        # A worker shares the port with the others (SO_REUSEPORT); one process owns it.
        shared = True if child else None
        site = web.TCPSite(runner, host, port, ssl_context=tls, reuse_port=shared)
        await site.start()
        state.serving = True
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        if child is None:
            announce(settings, site.name)
        else:
            child.end.say(READY_LINE, site.name)
            child.end.on_close(loop, stop.set)  # the supervisor has gone: stop as on SIGTERM
        await stop.wait()
    finally:
        await runner.cleanup()


def announce(settings: config_module.Settings, url: str, workers: int = 1) -> None:
    """The serving line: the port is bound (by every worker, when there are several)."""
    root = settings.server.service_root
    if settings.logging.format == "json":
        more = {"workers": workers} if workers > 1 else {}
        log.info("gateway_serving", service_root=root, url=url, **more)
    else:
        shared = f" with {workers} workers" if workers > 1 else ""
        print(f"uec-gateway serving {root} on {url}{shared}", file=sys.stderr, flush=True)


def reason(exc: BaseException, host: str, port: int) -> str:
    """Why serving failed, in one line (a traceback is never shown)."""
    if isinstance(exc, OSError) and exc.errno == errno.EADDRINUSE:
        return f"port {port} on {host} is already in use"
    if isinstance(exc, OSError) and exc.errno == errno.EADDRNOTAVAIL:
        return f"cannot listen on {host}:{port}: the address is not this machine's"
    if isinstance(exc, config_module.ConfigError):
        return "; ".join(exc.problems)
    if isinstance(exc, DataFileError) and exc.path:
        return exc.located()
    text = " ".join(str(exc).split())  # one line, whatever the exception's message holds
    if isinstance(exc, OSError | ValueError | LookupError):
        return text or type(exc).__name__
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def failed(why: str, json_mode: bool, *, stopped: bool = False) -> int:
    """Say ``why`` in one line on stderr (and as a log event in JSON mode); exit status 1."""
    what = "stopped" if stopped else "cannot start"
    if json_mode:
        log.error("gateway_start_failed" if not stopped else "gateway_stopped", reason=why)
    print(f"uec-gateway: {what}: {why}", file=sys.stderr, flush=True)
    return FAILED
