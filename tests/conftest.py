"""Suite-wide rules: under CI a missing shared sample fails instead of skipping; fuzz profiles."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Generator

import asyncpg
import pytest
from hypothesis import HealthCheck, settings

from tests.pg import PG_ABSENT, PG_DSN
from tests.samples import ABSENT, SHARED_SAMPLES
from tests.stores import SCHEMA_PREFIX, on_postgresql

#: Fuzzing in the ordinary run: a fixed seed (derandomized) and a bounded example count, so CI
#: time is known and a failure replays exactly; ``--fuzz-long`` explores far more, at random.
settings.register_profile(
    "fuzz",
    derandomize=True,
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
settings.register_profile(
    "fuzz-long",
    max_examples=2000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


def pytest_addoption(parser: pytest.Parser) -> None:
    """``--fuzz-long``: the fuzz tests run thousands of random examples instead of a fixed few."""
    parser.addoption(
        "--fuzz-long", action="store_true", help="run the fuzz tests long and at random"
    )


def pytest_configure(config: pytest.Config) -> None:
    """Choose the fuzz profile before any test is collected."""
    settings.load_profile("fuzz-long" if config.getoption("--fuzz-long") else "fuzz")


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
    """Under CI a skip because a shared sample or PostgreSQL is absent is reported as a failure."""
    report = yield
    reason = str(report.longrepr)
    if _in_ci() and report.skipped and (ABSENT in reason or PG_ABSENT in reason):
        report.outcome = "failed"
    return report


@pytest.fixture(scope="session", autouse=True)
def _drop_e2e_schemas() -> Generator[None, None, None]:
    """With ``UEC_TEST_STORE=postgresql``, the gateways' schemas go at the end of the run."""
    yield
    if on_postgresql():
        asyncio.run(_drop_schemas())


async def _drop_schemas() -> None:
    conn = await asyncpg.connect(PG_DSN)
    try:
        names = await conn.fetch(
            "SELECT nspname FROM pg_namespace WHERE starts_with(nspname, $1)", SCHEMA_PREFIX
        )
        for row in names:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{row[0]}" CASCADE')
    finally:
        await conn.close()
