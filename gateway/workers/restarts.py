"""When the supervisor restarts a worker that died, and when it gives up.

A worker that dies after it started is restarted after a pause that doubles with
each death still within the window (0.5 s, 1 s, 2 s, 4 s, then 5 s at most), so
a worker that cannot live does not spin the CPUs. A worker that dies ``limit``
times within ``window_s`` seconds is not restarted again: the supervisor stops
every worker and exits 1, since something is wrong that a restart cannot mend
(a mapping file broken since the start, the store gone, a port taken).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

#: Deaths of one worker within ``WINDOW_S`` that end the supervisor.
LIMIT = 5
WINDOW_S = 60.0
FIRST_PAUSE_S = 0.5
LONGEST_PAUSE_S = 5.0


@dataclass
class Restarts:
    """The deaths of each worker (by index) within the window; the clock is injectable."""

    clock: Callable[[], float] = time.monotonic
    limit: int = LIMIT
    window_s: float = WINDOW_S
    first_pause_s: float = FIRST_PAUSE_S
    longest_pause_s: float = LONGEST_PAUSE_S
    _deaths: dict[int, deque[float]] = field(default_factory=dict)

    def died(self, index: int) -> float | None:
        """Record a death of worker ``index``: the pause before its restart, or None when
        it has died ``limit`` times within the window and must not be restarted."""
        now = self.clock()
        deaths = self._deaths.setdefault(index, deque())
        deaths.append(now)
        while now - deaths[0] > self.window_s:
            deaths.popleft()
        if len(deaths) >= self.limit:
            return None
        return min(self.first_pause_s * 2.0 ** (len(deaths) - 1), self.longest_pause_s)

    def given_up(self, index: int) -> str:
        """Why worker ``index`` is not restarted, for the supervisor's last line."""
        return f"worker {index} died {self.limit} times within {self.window_s:g} s"
