"""The shipped demo configurations load and build their adapters from their own mapping tables."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters import registry
from gateway.config import load as load_config

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("config", "variable"),
    [
        ("demo-rest-diary.yaml", "REST_DIARY_CLIENT_SECRET"),
        ("demo-soap-diary.yaml", "SOAP_DIARY_PASSWORD"),
    ],
)
async def test_demo_config_builds_its_adapter(
    config: str, variable: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each demo config validates and its adapter serves every routed service (no I/O yet)."""
    monkeypatch.setenv(variable, "demo-only")
    settings = load_config(ROOT / "config" / config)
    (item,) = settings.adapters
    adapter = await registry.create(item.kind, item.name, item.options, settings.base_dir)
    try:
        assert all(adapter.serves(route.id) for route in settings.services)
    finally:
        await adapter.close()
