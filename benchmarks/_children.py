"""Child server processes for the benchmark: free ports, start-up, readiness, clean stop."""

from __future__ import annotations

import asyncio
import contextlib
import select
import shlex
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import aiohttp

HOST = "127.0.0.1"
ROOT = Path(__file__).resolve().parents[1]


class ChildError(RuntimeError):
    """A child server did not start, or died; the message carries the tail of its log."""


def free_port() -> int:
    """A port on 127.0.0.1 that was free a moment ago (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Child:
    """One server process; its output goes to a log file, shown if it fails."""

    name: str
    argv: list[str]
    port: int
    log_path: Path
    process: subprocess.Popen[bytes] | None = None
    _log: IO[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def command(self) -> str:
        return shlex.join(self.argv)

    def start(self) -> None:
        self._log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            self.argv, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=self._log, stderr=self._log
        )

    def log_tail(self, lines: int = 20) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def check_alive(self) -> None:
        if self.process is not None and self.process.poll() is not None:
            raise ChildError(
                f"{self.name} exited with code {self.process.returncode}:\n{self.log_tail()}"
            )

    async def wait_ready(self, timeout_s: float = 30.0) -> None:
        """Poll GET /health until it answers 200; fail early if the process dies."""
        deadline = time.monotonic() + timeout_s
        probe = aiohttp.ClientTimeout(total=2)
        async with aiohttp.ClientSession(timeout=probe) as session:
            while True:
                self.check_alive()
                with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                    async with session.get(f"{self.url}/health") as resp:
                        await resp.read()
                        if resp.status == 200:
                            return
                if time.monotonic() > deadline:
                    raise ChildError(
                        f"{self.name} not ready after {timeout_s:.0f}s:\n{self.log_tail()}"
                    )
                await asyncio.sleep(0.1)

    def stop(self, timeout_s: float = 10.0) -> int | None:
        """SIGTERM (a graceful aiohttp shutdown), then SIGKILL if it lingers; the exit code."""
        process = self.process
        code: int | None = None
        if process is not None:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                if not _exited_within(process, timeout_s):
                    process.kill()
                    process.wait()
            code = process.returncode
        if self._log is not None:
            self._log.close()
            self._log = None
        return code


def _exited_within(process: subprocess.Popen[bytes], timeout_s: float) -> bool:
    """Whether ``process`` ends within ``timeout_s``, polled with ``select`` pauses.

    ``Popen.wait(timeout)`` sleeps with ``time.sleep``, which fails (EINVAL) under
    libfaketime with ``FAKETIME_DONT_FAKE_MONOTONIC=1``, as the test suite's
    moved-clock runs use; a ``select`` timeout works there too.
    """
    deadline = time.monotonic() + timeout_s
    while process.poll() is None:
        if time.monotonic() > deadline:
            return False
        select.select([], [], [], 0.02)
    return True


@dataclass
class Children:
    """Every child started, so one ``stop_all`` in a ``finally`` ends them all."""

    started: list[Child] = field(default_factory=list)

    async def launch(
        self,
        name: str,
        argv_for_port: Callable[[int], list[str]],
        log_path: Path,
        attempts: int = 3,
    ) -> Child:
        """Start a child on a fresh free port and wait for /health; retry if it dies early.

        The port can be taken between probing and binding, so a child that
        exits during start-up is retried on another port.
        """
        last: ChildError | None = None
        for _ in range(attempts):
            port = free_port()
            child = Child(name, argv_for_port(port), port, log_path)
            self.started.append(child)
            child.start()
            try:
                await child.wait_ready()
            except ChildError as exc:
                child.stop()
                self.started.remove(child)
                last = exc
                continue
            return child
        assert last is not None
        raise last

    def stop_all(self) -> dict[str, int | None]:
        codes: dict[str, int | None] = {}
        for child in reversed(self.started):
            codes[child.name] = child.stop()
        return codes


def python_module(module: str, *args: str) -> list[str]:
    """``python -m module args``, with this interpreter."""
    return [sys.executable, "-m", module, *args]
