"""Under CI the real-sample tests cannot silently skip: a missing sample is a failure."""

from __future__ import annotations

from pathlib import Path

from tests.processes import run_python
from tests.samples import ROOT

SAMPLE_TESTS = "tests/hl7v2/test_samples.py"


async def _pytest(tmp_path: Path, ci: str) -> tuple[int, str]:
    args = ["-c", _RUN, ci, str(tmp_path / "nowhere"), SAMPLE_TESTS]
    done = await run_python(args, ROOT, timeout_s=120)
    return done.returncode, done.stdout + done.stderr


#: pytest in a child with CI and the samples folder set (no cache, no plugins' state kept).
_RUN = (
    "import os, sys, pytest; os.environ['CI'] = sys.argv[1];"
    " os.environ['UEC_TEST_SAMPLES'] = sys.argv[2];"
    " sys.exit(pytest.main(['-q', '-p', 'no:cacheprovider', sys.argv[3]]))"
)


async def test_missing_samples_fail_the_run_under_ci(tmp_path: Path) -> None:
    """With CI=true and no ../shared/samples the run fails and says which folder is missing."""
    code, output = await _pytest(tmp_path, "true")
    assert code != 0
    assert "shared samples are missing" in output and "nowhere" in output


async def test_missing_samples_skip_outside_ci(tmp_path: Path) -> None:
    """Outside CI the same tests are skipped, naming the absent sample folder."""
    code, output = await _pytest(tmp_path, "")
    assert code == 0
    assert "skipped" in output


async def test_an_absent_sample_file_fails_under_ci(tmp_path: Path) -> None:
    """With CI=true and an empty samples folder, the sample tests fail rather than skip."""
    (tmp_path / "nowhere").mkdir()
    code, output = await _pytest(tmp_path, "true")
    assert code != 0
    assert "2 errors" in output and "skipped" not in output  # skipif acts in setup
