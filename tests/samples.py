"""Where the real messages written by others live: ``../shared/samples``, read at run time.

``UEC_TEST_SAMPLES`` names another folder (the suite's own test of the CI rule uses it).
Outside CI a test whose sample is absent is skipped with the reason "shared sample absent";
under CI (``CI=true``) that skip is turned into a failure by ``tests/conftest.py``, so the
real-sample tests cannot silently not run there.
"""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED_SAMPLES = Path(os.environ.get("UEC_TEST_SAMPLES", ROOT.parent / "shared" / "samples"))

#: The words every skip for a missing sample starts with; the CI hook looks for them.
ABSENT = "shared sample absent"


def absent(path: Path) -> str:
    """The skip reason for a missing sample file or folder."""
    return f"{ABSENT}: {path}"
