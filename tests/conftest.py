"""Suite-wide rules: under CI a missing shared sample fails instead of skipping."""

from __future__ import annotations

import os
from collections.abc import Generator

import pytest

from tests.samples import ABSENT, SHARED_SAMPLES


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def pytest_sessionstart(session: pytest.Session) -> None:
    """CI runs with ../shared beside the checkout; without its samples the run is wrong."""
    if _in_ci() and not SHARED_SAMPLES.is_dir():
        raise pytest.UsageError(f"CI=true but the shared samples are missing: {SHARED_SAMPLES}")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Under CI a skip because a shared sample is absent is reported as a failure."""
    report = yield
    if _in_ci() and report.skipped and ABSENT in str(report.longrepr):
        report.outcome = "failed"
    return report
