"""``uec-gateway serve``: start, say so once the port is bound, stop on SIGINT/SIGTERM.

A process supervisor or an integrator reads two things from a starting gateway:
the "serving" line, which must mean the port really is bound (so it is printed
after the listener starts, and is a JSON log event in JSON log mode), and, if it
cannot start, one line saying why (port in use, store not writable, a TLS file
missing, a bad configuration) and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import asyncio
import errno
import signal
import sys
from dataclasses import dataclass
from pathlib import Path

import structlog
from aiohttp import web

from adapters._csvtable import DataFileError
from gateway import config as config_module
from gateway import logs
from gateway._checks import unwritable, writable_paths

log = structlog.get_logger(__name__)

#: Exit status when the gateway cannot start or stops on an error.
FAILED = 1


@dataclass
class _State:
    #: Set once the port is bound: a later failure is a stop, not a failed start.
    serving: bool = False


def run(config_path: Path, host: str | None, port: int | None) -> int:
    """Serve until SIGINT/SIGTERM; 0 after a clean stop, 1 (one line on stderr) on failure."""
    try:
        settings = config_module.load(config_path)
    except config_module.ConfigError as exc:
        more = len(exc.problems) - 1
        extra = f" (and {more} more: run uec-gateway check-config {config_path})" if more else ""
        return _failed(f"{exc.problems[0] if exc.problems else exc}{extra}", json_mode=False)
    json_mode = settings.logging.format == "json"
    logs.configure(settings.logging.format, settings.logging.level)
    host = host or settings.server.host
    port = port if port is not None else settings.server.port
    for _, label, file in writable_paths(settings):
        reason = unwritable(file)
        if reason:
            return _failed(f"{label}: {reason}", json_mode)
    state = _State()
    try:
        asyncio.run(_serve(settings, config_path, host, port, state))
    except Exception as exc:  # one line, whatever failed; the cause is in the message
        return _failed(_reason(exc, host, port), json_mode, stopped=state.serving)
    return 0


async def _serve(
    settings: config_module.Settings, config_path: Path, host: str, port: int, state: _State
) -> None:
    from gateway.app import create_app  # imported here: building the app reads key files
    from gateway.http.server import GatewayRunner

    runner = GatewayRunner(create_app(settings, config_path), access_log=None)
    try:
        await runner.setup()  # the store, the adapters and the HL7 front door start here
        site = web.TCPSite(runner, host, port)
        await site.start()
        state.serving = True
        _announce(settings, site.name)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        await stop.wait()
    finally:
        await runner.cleanup()


def _announce(settings: config_module.Settings, url: str) -> None:
    root = settings.server.service_root
    if settings.logging.format == "json":
        log.info("gateway_serving", service_root=root, url=url)
    else:
        print(f"uec-gateway serving {root} on {url}", file=sys.stderr, flush=True)


def _reason(exc: BaseException, host: str, port: int) -> str:
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


def _failed(reason: str, json_mode: bool, *, stopped: bool = False) -> int:
    what = "stopped" if stopped else "cannot start"
    if json_mode:
        log.error("gateway_start_failed" if not stopped else "gateway_stopped", reason=reason)
    print(f"uec-gateway: {what}: {reason}", file=sys.stderr, flush=True)
    return FAILED
