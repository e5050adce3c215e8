"""When the supervisor restarts a dead worker, and when it gives up (an injected clock)."""

from __future__ import annotations

from dataclasses import dataclass

from gateway.workers.control import decode, encode
from gateway.workers.process import exit_text
from gateway.workers.restarts import Restarts


@dataclass
class Clock:
    now: float = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_pause_doubles_up_to_five_seconds_and_the_fifth_death_gives_up() -> None:
    """Deaths 1-4 within a minute wait 0.5, 1, 2, 4 s; the fifth within it is not restarted."""
    clock = Clock()
    restarts = Restarts(clock=clock)
    pauses = []
    for _ in range(4):
        pauses.append(restarts.died(2))
        clock.now += 10
    assert pauses == [0.5, 1.0, 2.0, 4.0]
    assert restarts.died(2) is None
    assert restarts.given_up(2) == "worker 2 died 5 times within 60 s"


def test_the_pause_is_capped() -> None:
    """With a higher limit the pause stops growing at five seconds."""
    restarts = Restarts(clock=Clock(), limit=10)
    assert [restarts.died(1) for _ in range(6)] == [0.5, 1.0, 2.0, 4.0, 5.0, 5.0]


def test_deaths_older_than_the_window_are_forgotten() -> None:
    """A worker dying once every 20 s keeps being restarted, its pause back at the start."""
    clock = Clock()
    restarts = Restarts(clock=clock)
    for _ in range(20):
        assert restarts.died(1) is not None
        clock.now += 20.5
    assert restarts.died(1) == 2.0  # this death and the two before it are within the minute


def test_each_worker_is_counted_on_its_own() -> None:
    """Four deaths of worker 1 and four of worker 2 stop neither."""
    restarts = Restarts(clock=Clock())
    assert all(restarts.died(index) is not None for index in (1, 2) for _ in range(4))


def test_control_lines_are_one_line_each() -> None:
    """A reason with line breaks is one line on the control socket; EOF reads as no kind."""
    line = encode("failed", "port 8080\non 127.0.0.1  is already in use")
    assert line == b"failed port 8080 on 127.0.0.1 is already in use\n"
    assert decode(line).text == "port 8080 on 127.0.0.1 is already in use"
    assert decode(encode("ready", "http://127.0.0.1:1")).kind == "ready"
    assert decode(b"").kind == ""


def test_exit_statuses_are_said_in_words() -> None:
    """A negative status is the signal that killed the worker."""
    assert exit_text(-9) == "killed by SIGKILL"
    assert exit_text(1) == "exited with code 1"
