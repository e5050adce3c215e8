"""Run ``uec-gateway`` as a user would: the installed command, in a real process."""

from __future__ import annotations

import asyncio
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
#: The console script installed beside this interpreter (``pip install -e .``).
UEC_GATEWAY = Path(sys.executable).with_name("uec-gateway")


@dataclass(frozen=True)
class Finished:
    code: int
    out: str
    err: str

    @property
    def lines(self) -> list[str]:
        """stderr's lines: where problems and start-up failures are printed."""
        return self.err.strip().splitlines()


async def run(*args: str, cwd: Path = ROOT, within_s: float = 60.0) -> Finished:
    """``uec-gateway ARGS`` to its end; killed and an error if it outlives ``within_s``."""
    proc = await asyncio.create_subprocess_exec(
        str(UEC_GATEWAY),
        *args,
        cwd=cwd,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), within_s)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    assert proc.returncode is not None
    return Finished(proc.returncode, out.decode(), err.decode())


def demo_copy(folder: Path) -> Path:
    """A private copy of ``config/`` and ``mappings/`` a test may edit; returns ``folder``."""
    shutil.copytree(ROOT / "config", folder / "config")
    shutil.copytree(ROOT / "mappings", folder / "mappings")
    return folder
