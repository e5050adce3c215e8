"""The per-route circuit breaker's state machine, on an injected clock."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from adapters import errors as adapter_errors
from gateway.circuits import Breakers, CircuitOptions, CircuitSettings, circuit_states

STAMP = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)


class Clock:
    """Monotonic seconds that only move when told."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def breakers(clock: Clock, failures: int = 2, reset_s: float = 10.0) -> Breakers:
    options = CircuitOptions(failures=failures, reset_s=reset_s)
    return Breakers(CircuitSettings(default=options), clock=clock, wall=lambda: STAMP)


async def fail() -> None:
    raise adapter_errors.SupplierUnavailable("down")


async def ok() -> str:
    return "ok"


async def trip(b: Breakers, times: int) -> None:
    for _ in range(times):
        with pytest.raises(adapter_errors.SupplierUnavailable):
            await b.call("acme", "search", fail(), None)


async def test_consecutive_failures_open_the_circuit() -> None:
    """N consecutive transient failures open the circuit; the next call is refused unsent."""
    clock = Clock()
    b = breakers(clock)
    await trip(b, 2)
    state = b.states()["acme"]
    assert (state.state, state.failures, state.opened_at) == ("open", 2, STAMP)
    work = ok()
    with pytest.raises(adapter_errors.CircuitOpen) as refused:
        await b.call("acme", "search", work, None)
    assert refused.value.retry_after_s == 10
    assert work.cr_frame is None  # closed, never run


async def test_a_success_between_failures_resets_the_count() -> None:
    """Failures must be consecutive: a success in between starts the count again."""
    b = breakers(Clock())
    await trip(b, 1)
    assert await b.call("acme", "search", ok(), None) == "ok"
    await trip(b, 1)
    assert b.states()["acme"].state == "closed"


async def test_business_answers_do_not_count_against_the_supplier() -> None:
    """A slot already taken is a supplier that works: it never opens the circuit."""
    b = breakers(Clock(), failures=1)

    async def taken() -> None:
        raise adapter_errors.SlotUnavailable("taken")

    for _ in range(3):
        with pytest.raises(adapter_errors.SlotUnavailable):
            await b.call("acme", "book", taken(), None)
    assert b.states()["acme"].state == "closed"


async def test_timeouts_count_as_failures() -> None:
    """A call that runs past its time counts against the supplier like a refusal."""
    b = breakers(Clock(), failures=1)
    with pytest.raises(TimeoutError):
        await b.call("acme", "search", asyncio.sleep(1), 0.01)
    assert b.states()["acme"].state == "open"


async def test_retry_after_counts_down_to_the_probe() -> None:
    """Retry-After is the whole seconds until the half-open probe, never below 1."""
    clock = Clock()
    b = breakers(clock)
    await trip(b, 2)
    clock.now += 7.5
    with pytest.raises(adapter_errors.CircuitOpen) as refused:
        await b.call("acme", "search", ok(), None)
    assert refused.value.retry_after_s == 3
    assert b.states()["acme"].retry_after_s == 2.5


async def test_half_open_lets_exactly_one_probe_through() -> None:
    """After reset_s one call probes; others meanwhile are refused; its success closes."""
    clock = Clock()
    b = breakers(clock)
    await trip(b, 2)
    clock.now += 10
    assert b.states()["acme"].state == "half_open"
    gate = asyncio.Event()

    async def slow_ok() -> str:
        await gate.wait()
        return "probed"

    probe = asyncio.create_task(b.call("acme", "search", slow_ok(), None))
    await asyncio.sleep(0)
    with pytest.raises(adapter_errors.CircuitOpen) as refused:
        await b.call("acme", "search", ok(), None)
    assert refused.value.retry_after_s == 1
    gate.set()
    assert await probe == "probed"
    assert b.states()["acme"].state == "closed"
    assert b.states()["acme"].failures == 0


async def test_a_failed_probe_opens_the_circuit_again() -> None:
    """The probe failing re-opens the circuit for another full reset_s."""
    clock = Clock()
    b = breakers(clock)
    await trip(b, 2)
    clock.now += 10
    await trip(b, 1)
    state = b.states()["acme"]
    assert (state.state, state.retry_after_s) == ("open", 10.0)


async def test_a_cancelled_probe_frees_the_probe_slot() -> None:
    """A probe cancelled by its caller says nothing of the supplier: the next call probes."""
    clock = Clock()
    b = breakers(clock)
    await trip(b, 2)
    clock.now += 10
    probe = asyncio.create_task(b.call("acme", "search", asyncio.sleep(5), None))
    await asyncio.sleep(0)
    probe.cancel()
    with pytest.raises(asyncio.CancelledError):
        await probe
    assert await b.call("acme", "search", ok(), None) == "ok"


async def test_routes_have_their_own_circuits_and_options() -> None:
    """One supplier failing leaves another's circuit closed; per-adapter options apply."""
    clock = Clock()
    settings = CircuitSettings(adapters={"acme": CircuitOptions(failures=1, reset_s=5)})
    b = Breakers(settings, clock=clock)
    await trip(b, 1)
    assert await b.call("other", "search", ok(), None) == "ok"
    states = circuit_states(b, ["acme", "other", "never-called"])
    assert [s.state for s in states.values()] == ["open", "closed", "closed"]
    assert states["acme"].as_json()["retry_after_s"] == 5.0


async def test_disabled_circuits_never_open() -> None:
    """circuits.enabled false: every call goes to the supplier, however often it fails."""
    b = Breakers(CircuitSettings(enabled=False, default=CircuitOptions(failures=1)))
    await trip(b, 3)
    assert b.states() == {}
