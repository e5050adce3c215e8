"""Child processes for tests, waited on without ``time.sleep``.

The suite is also run under a moved clock (libfaketime with
``FAKETIME_DONT_FAKE_MONOTONIC=1``; see the README's test section). There
``time.sleep``, and so ``subprocess.run(timeout=…)`` and ``Popen.wait(timeout)``,
fail with EINVAL, while the event loop's timeouts keep working; these helpers
use the event loop.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Finished:
    """What a child process printed and how it ended."""

    returncode: int
    stdout: str
    stderr: str


async def run_python(args: list[str], cwd: Path, timeout_s: float) -> Finished:
    """``python ARGS`` in ``cwd``, its output captured; killed (and the test failed) on timeout."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        *args,
        cwd=cwd,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(), timeout_s)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    assert process.returncode is not None
    return Finished(process.returncode, out.decode(), err.decode())


async def wait_exit(process: subprocess.Popen[str], timeout_s: float) -> int:
    """The exit code of ``process`` once it ends, polled on the event loop."""
    deadline = time.monotonic() + timeout_s
    while (code := process.poll()) is None:
        if time.monotonic() > deadline:
            raise TimeoutError(f"process {process.pid} still running after {timeout_s}s")
        await asyncio.sleep(0.02)
    return code
