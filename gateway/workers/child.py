"""One worker of ``serve --workers N``: ``python -m gateway.workers.child``, run by the supervisor.

Not a command for people: the supervisor (``gateway/workers/supervisor.py``) starts it
with the configuration, the address, the worker's index and the file descriptor of
its end of the control line (``control.py``). It serves exactly as ``uec-gateway
serve`` does (``gateway/_serve.py``), but says ``ready`` or ``failed`` on that line
instead of printing the serving line or its failure, and stops when the line closes.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from gateway.workers import Worker
from gateway.workers.control import RELOAD, WorkerEnd


@dataclass(frozen=True)
class Child:
    """This worker and its end of the line to the supervisor."""

    worker: Worker
    end: WorkerEnd


def argv(config: Path, host: str, port: int, index: int, of: int, control_fd: int) -> list[str]:
    """The command line that starts worker ``index`` of ``of`` with this interpreter."""
    return [
        sys.executable, "-m", "gateway.workers.child", "--config", str(config),
        "--host", host, "--port", str(port), "--index", str(index), "--of", str(of),
        "--control-fd", str(control_fd),
    ]  # fmt: skip


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gateway.workers.child", description=__doc__)
    parser.add_argument("--config", type=Path, required=True)
    parser.add_argument("--host", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--index", type=int, required=True)
    parser.add_argument("--of", type=int, required=True)
    parser.add_argument("--control-fd", type=int, required=True)
    return parser


def main(args: Sequence[str] | None = None) -> int:
    from gateway import _serve  # imported here: it loads the whole application

    found = _parser().parse_args(args)
    end = WorkerEnd(found.control_fd)
    worker = Worker(found.index, found.of, reload_others=lambda: end.say(RELOAD))
    try:
        return _serve.run_worker(found.config, found.host, found.port, Child(worker, end))
    finally:
        end.close()


if __name__ == "__main__":
    sys.exit(main())
