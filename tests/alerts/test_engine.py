"""The alert engine's rules over given values, with an injected clock, into a real webhook."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml

from gateway.alerts import AlertSettings, Kind, Rule
from gateway.alerts._engine import Engine, Values
from gateway.alerts.loop import certificate_days
from gateway.config import load as load_config
from tests.alerts.webhook import Webhook
from tests.tls.certs import authority


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def webhook() -> AsyncIterator[Webhook]:
    hook = Webhook()
    await hook.start()
    yield hook
    await hook.stop()


async def _engine(
    hook: Webhook, session: aiohttp.ClientSession, clock: Clock, **kinds: Any
) -> tuple[Engine, dict[str, Any]]:
    state: dict[str, Any] = {"counts": {}, "values": {}}

    async def post(body: dict[str, Any]) -> bool:
        async with session.post(hook.url, json=body) as resp:
            return resp.status < 300

    async def counts() -> dict[str, tuple[int, int]]:
        return dict(state["counts"])

    async def values() -> Values:
        return dict(state["values"])

    settings = AlertSettings(webhook=hook.url, interval_s=30, **kinds)
    engine = Engine(settings, {Kind.CERT_EXPIRY: values}, counts, post, clock=clock)
    return engine, state


async def test_an_error_rate_over_its_window_fires_and_falls_back(webhook: Webhook) -> None:
    """3 failures of 10 calls in the window (30 %) fire a 20 % rule; clean calls resolve it."""
    clock = Clock()
    rule = Rule(name="errors", kind=Kind.ERROR_RATE, window_s=60, min_calls=5)
    async with aiohttp.ClientSession() as session:
        engine, state = await _engine(webhook, session, clock, rules=(rule,), repeat_s=0)
        state["counts"] = {"pas": (100, 0)}
        await engine.evaluate()
        clock.now += 30
        state["counts"] = {"pas": (110, 3)}
        await engine.evaluate()
        (firing,) = webhook.received
        assert (firing["state"], firing["subject"], firing["value"]) == ("firing", "pas", 0.3)
        clock.now += 30
        state["counts"] = {"pas": (112, 3)}  # 2 clean calls: too few to judge, still firing
        await engine.evaluate()
        assert len(webhook.received) == 1
        clock.now += 30
        state["counts"] = {"pas": (140, 3)}  # 30 clean calls in the last window
        await engine.evaluate()
        assert [a["state"] for a in webhook.received] == ["firing", "resolved"]


async def test_a_falling_kind_fires_below_its_threshold_and_repeats(webhook: Webhook) -> None:
    """cert_expiry fires below 14 days; still breached after repeat_s it is posted again."""
    clock = Clock()
    rule = Rule(name="certs", kind=Kind.CERT_EXPIRY)
    async with aiohttp.ClientSession() as session:
        engine, state = await _engine(webhook, session, clock, rules=(rule,), repeat_s=3600)
        state["values"] = {"server.tls": 30.0}
        await engine.evaluate()
        state["values"] = {"server.tls": 9.5}
        await engine.evaluate()
        clock.now += 1800
        await engine.evaluate()  # within repeat_s: quiet
        clock.now += 1800
        await engine.evaluate()
        posted = [(a["state"], a["value"], a["since"]) for a in webhook.received]
        first_since = posted[0][2]
        assert posted == [("firing", 9.5, first_since), ("firing", 9.5, first_since)]


async def test_a_listener_certificate_near_its_end_fires_the_expiry_rule(
    webhook: Webhook, tmp_path: Path
) -> None:
    """A server certificate ending in 5 days breaches a 14-day cert_expiry rule, by option."""
    ca = authority(tmp_path / "pki", "ours")
    issued = ca.issue("gateway", server=True, days=5)
    config = tmp_path / "gateway.yaml"
    tls = {"cert_file": str(issued.cert_file), "key_file": str(issued.key_file)}
    config.write_text(yaml.safe_dump({"server": {"tls": tls}}), encoding="utf-8")
    days = certificate_days(load_config(config))
    assert list(days) == ["server.tls.cert_file"]
    assert 4.9 < days["server.tls.cert_file"] < 5.1
    rule = Rule(name="certs", kind=Kind.CERT_EXPIRY)

    async def source() -> Values:
        return days

    async with aiohttp.ClientSession() as session:

        async def post(body: dict[str, Any]) -> bool:
            async with session.post(webhook.url, json=body) as resp:
                return resp.status < 300

        settings = AlertSettings(webhook=webhook.url, rules=(rule,))
        await Engine(settings, {Kind.CERT_EXPIRY: source}, None, post).evaluate()
    ((subject, state),) = [(a["subject"], a["state"]) for a in webhook.received]
    assert (subject, state) == ("server.tls.cert_file", "firing")
