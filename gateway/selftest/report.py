"""The self-test's results: one line per check and the closing count, or JSON."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field


@dataclass(frozen=True, slots=True)
class Result:
    """One check: its name, the spec page it comes from, and what was seen when it failed."""

    name: str
    page: str
    passed: bool
    detail: str = ""


@dataclass(slots=True)
class Report:
    """Every check's result, in the order they ran, for one target and service."""

    target: str
    service: str
    results: list[Result] = field(default_factory=list)

    def add(self, result: Result) -> None:
        self.results.append(result)

    @property
    def passed(self) -> int:
        return sum(1 for r in self.results if r.passed)

    @property
    def failed(self) -> int:
        return len(self.results) - self.passed

    def failures(self) -> list[str]:
        return [r.name for r in self.results if not r.passed]


def render_text(report: Report) -> str:
    """``PASS name — page`` / ``FAIL name — detail (page)`` lines, then ``N passed, M failed``."""
    lines = []
    for r in report.results:
        if r.passed:
            lines.append(f"PASS {r.name} — {r.page}")
        else:
            lines.append(f"FAIL {r.name} — {r.detail} ({r.page})")
    lines.append(f"{report.passed} passed, {report.failed} failed")
    return "\n".join(lines)


def render_json(report: Report) -> str:
    """The same report as one JSON document."""
    return json.dumps(
        {
            "target": report.target,
            "service": report.service,
            "passed": report.passed,
            "failed": report.failed,
            "checks": [asdict(r) for r in report.results],
        },
        indent=2,
        ensure_ascii=False,
    )
