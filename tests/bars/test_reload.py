"""A reload cannot change the BaRS door, which is built once at start-up."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.bars.conftest import Start

TOKEN_ENV = "UEC_TEST_ADMIN_TOKEN"


async def test_bars_section_changes_need_a_restart(
    both_doors: Start, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A reload that would change the bars: section is refused, naming it; the door still serves."""
    monkeypatch.setenv(TOKEN_ENV, "let-me-reload")
    doors = await both_doors(admin_token_env=TOKEN_ENV)
    config = tmp_path / "gateway.yaml"
    config.write_text(config.read_text().replace("request_timeout_s: 4.5", "request_timeout_s: 2"))
    resp = await doors.bars.client.post(
        "/admin/reload", headers={"Authorization": "Bearer let-me-reload"}
    )
    assert resp.status == 409
    assert "bars" in str((await resp.json())["reason"])
    assert len(await doors.bars.free_slots()) == 1
