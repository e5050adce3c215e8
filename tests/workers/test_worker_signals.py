"""Signalling a worker that is exiting at that moment never steals its exit status."""

from __future__ import annotations

import asyncio
import logging
import shutil
import signal
from pathlib import Path

import pytest

from gateway.workers.process import Address, WorkerProcess, exit_text

TRUE = shutil.which("true") or "/bin/true"


class ShortLived(WorkerProcess):
    """A worker whose process exits at once, as a worker that cannot start does."""

    def command(self, control_fd: int) -> list[str]:
        return [TRUE]


async def test_a_sigterm_racing_the_exit_leaves_the_real_exit_status(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """SIGTERM sent over and over while workers exit: each status is its own, never 255."""
    worker = ShortLived(Address(tmp_path / "gateway.yaml", "127.0.0.1", 1), 1, 1)
    seen = set()
    with caplog.at_level(logging.WARNING, logger="asyncio"):
        for _ in range(60):
            await worker.spawn()
            while worker.running:
                worker.send(signal.SIGTERM)
                await asyncio.sleep(0)
            seen.add(exit_text(await worker.exited()))
            await worker.close()
    assert seen <= {"exited with code 0", "killed by SIGTERM"}
    assert not [r.getMessage() for r in caplog.records if "child process" in r.getMessage()]

