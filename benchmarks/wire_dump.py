"""Writing a slot searchset as JSON and as XML, in-process: what each wire format costs.

Builds one page of free slots (the searchset ``GET /Slot`` answers) and times, best
and median of several rounds:

- JSON render + dump, cold (slot entries rendered afresh) and warm (the rendered
  entries ``bundle.slot_entries`` keeps for a slot seen unchanged);
- JSON dump and XML dump of the same rendered Bundle.

    python -m benchmarks.wire_dump --slots 50
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

from adapters.domain import Slot, SlotSearchResult, SlotStatus
from gateway.fhir import bundle, formats
from gateway.fhir.formats import WireFormat
from gateway.fhir.render import Json


def _result(count: int, now: datetime) -> SlotSearchResult:
    slots = tuple(
        Slot(
            id=f"s{i}",
            schedule_id="sch",
            identifier=f"00000000-0000-4000-8000-{i:012d}",
            status=SlotStatus.FREE,
            start=now + timedelta(minutes=10 * i),
            end=now + timedelta(minutes=10 * i + 10),
        )
        for i in range(count)
    )
    return SlotSearchResult(slots=slots)


def _timed(work: Callable[[], object], rounds: int, repeat: int) -> tuple[float, float]:
    """Best and median milliseconds per call of ``work``."""
    work()
    per_call: list[float] = []
    for _ in range(rounds):
        started = time.perf_counter()
        for _ in range(repeat):
            work()
        per_call.append((time.perf_counter() - started) / repeat * 1000)
    return min(per_call), statistics.median(per_call)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--slots", type=int, default=50, help="slots on the page")
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--repeat", type=int, default=100, help="calls per round")
    opts = parser.parse_args(argv)
    now = datetime.now(UTC)
    result = _result(opts.slots, now)

    def render() -> Json:
        return bundle.slot_bundle(result, [], base="http://x", self_url="http://x/Slot", now=now)

    def render_cold() -> Json:
        bundle._SLOT_ENTRIES.clear()
        return render()

    rendered = render()
    cases: dict[str, Callable[[], object]] = {
        "JSON render (cold) + dump": lambda: formats.dump(render_cold(), WireFormat.JSON),
        "JSON render (warm) + dump": lambda: formats.dump(render(), WireFormat.JSON),
        "JSON dump": lambda: formats.dump(rendered, WireFormat.JSON),
        "XML dump": lambda: formats.dump(rendered, WireFormat.XML),
    }
    print(f"{opts.slots}-slot searchset, ms per call (best / median of {opts.rounds} rounds)")
    for name, work in cases.items():
        best, median = _timed(work, opts.rounds, opts.repeat)
        print(f"  {name:26s} {best:7.3f} / {median:7.3f}")


if __name__ == "__main__":
    main()
