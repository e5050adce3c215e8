"""What build is running: package version, git commit when known, Python, start time."""

from __future__ import annotations

import functools
import os
import platform
from datetime import UTC, datetime
from pathlib import Path

from gateway.release import version

#: Set by a packaging step that knows the commit; else read from a git checkout.
COMMIT_ENV = "UEC_GATEWAY_COMMIT"


def _git_commit(root: Path) -> str | None:
    head = root / ".git"
    if head.is_file():  # a worktree: ".git" names the real git dir
        text = head.read_text().strip()
        head = Path(text.removeprefix("gitdir:").strip())
    try:
        ref = (head / "HEAD").read_text().strip()
    except OSError:
        return None
    if not ref.startswith("ref: "):
        return ref[:12]
    common = head / "commondir"  # a worktree's branches live in the main git dir
    for where in (head, head / common.read_text().strip() if common.is_file() else head):
        path = where / ref[5:]
        if path.is_file():
            return path.read_text().strip()[:12]
    return None


@functools.cache
def commit() -> str:
    """The git commit this code came from, or "unknown"."""
    given = os.environ.get(COMMIT_ENV)
    if given:
        return given[:40]
    return _git_commit(Path(__file__).resolve().parents[2]) or "unknown"


def labels() -> dict[str, str]:
    """The build, as the labels of ``uec_gateway_build_info``."""
    return {"version": version(), "commit": commit(), "python": platform.python_version()}


def info(started: datetime) -> dict[str, str]:
    """The build and when this process started, as ``/health/ready`` reports it."""
    return {**labels(), "started": started.astimezone(UTC).isoformat()}


def now() -> datetime:
    return datetime.now(UTC)
