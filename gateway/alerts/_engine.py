"""Rules evaluated on a timer; each start and end of a breach POSTed to the webhook.

Every evaluation reads each rule's values (one per subject: an adapter, a queue, a
certificate) from its kind's source, and compares what should be known outside
(firing or not, per rule and subject) with what the webhook has been told. Any
difference is posted; a post that fails is tried again at the next evaluation,
so a webhook that was down hears every change once it is back. A breach that
lasts is posted again every ``repeat_s``. A subject that disappears (an adapter
removed by a reload) resolves.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import structlog

from gateway.alerts.settings import AlertSettings, Kind, Rule

log = structlog.get_logger(__name__)

#: A kind's current values by subject.
Values = dict[str, float]
#: Where a kind's values come from (error_rate's are cumulative (calls, failures)).
Source = Callable[[], Awaitable[Values]]
CountSource = Callable[[], Awaitable[dict[str, tuple[int, int]]]]
Post = Callable[[dict[str, Any]], Awaitable[bool]]


@dataclass
class _Told:
    """What the webhook was last told of one rule and subject."""

    firing: bool = False
    since: float = 0.0
    posted_at: float = 0.0


@dataclass
class Engine:
    settings: AlertSettings
    sources: dict[Kind, Source]
    counts: CountSource | None
    post: Post
    clock: Callable[[], float] = time.time
    told: dict[tuple[str, str], _Told] = field(default_factory=dict)
    _history: dict[str, deque[tuple[float, int, int]]] = field(default_factory=dict)

    async def evaluate(self) -> None:
        """One round: every rule's values read, every change posted."""
        now = self.clock()
        rates = await self._error_rates(now) if self._wants(Kind.ERROR_RATE) else {}
        cache: dict[Kind, Values] = {}
        for rule in self.settings.rules:
            values = rates.get(rule.name, {}) if rule.kind is Kind.ERROR_RATE else None
            if values is None:
                values = await self._values(rule.kind, cache)
            await self._judge(rule, _chosen(values, rule.subject), now)

    def _wants(self, kind: Kind) -> bool:
        return any(rule.kind is kind for rule in self.settings.rules)

    async def _values(self, kind: Kind, cache: dict[Kind, Values]) -> Values:
        if kind not in cache:
            source = self.sources.get(kind)
            try:
                cache[kind] = await source() if source is not None else {}
            except Exception as exc:  # one broken source never stops the others
                log.warning("alert_source_failed", kind=kind.value, error=type(exc).__name__)
                cache[kind] = {}
        return cache[kind]

    async def _judge(self, rule: Rule, values: Values, now: float) -> None:
        subjects = set(values) | {s for (name, s) in self.told if name == rule.name}
        for subject in sorted(subjects):
            value = values.get(subject)
            breached = value is not None and rule.breached(value)
            told = self.told.setdefault((rule.name, subject), _Told())
            due = breached and told.firing and self._repeat_due(told, now)
            if breached != told.firing or due:
                await self._tell(rule, subject, value, breached, told, now)

    def _repeat_due(self, told: _Told, now: float) -> bool:
        return self.settings.repeat_s > 0 and now - told.posted_at >= self.settings.repeat_s

    async def _tell(
        self, rule: Rule, subject: str, value: float | None, firing: bool, told: _Told, now: float
    ) -> None:
        since = told.since if told.firing and firing else now
        body = {
            "alert": rule.name,
            "kind": rule.kind.value,
            "subject": subject,
            "state": "firing" if firing else "resolved",
            "value": value,
            "threshold": rule.limit(),
            "since": _iso(since),
            "at": _iso(now),
        }
        if await self.post(body):
            told.firing, told.since, told.posted_at = firing, since, now
            log.info("alert_posted", alert=rule.name, subject=subject, state=body["state"])

    async def _error_rates(self, now: float) -> dict[str, Values]:
        """Each error_rate rule's share of failed calls per subject over its window."""
        counts: dict[str, tuple[int, int]] = {}
        if self.counts is not None:
            try:
                counts = await self.counts()
            except Exception as exc:
                log.warning("alert_source_failed", kind="error_rate", error=type(exc).__name__)
        longest = max(r.window_s for r in self.settings.rules if r.kind is Kind.ERROR_RATE)
        for subject, (calls, failures) in counts.items():
            seen = self._history.setdefault(subject, deque())
            seen.append((now, calls, failures))
            while seen and seen[0][0] < now - longest - self.settings.interval_s:
                seen.popleft()
        rates: dict[str, Values] = {}
        for rule in self.settings.rules:
            if rule.kind is Kind.ERROR_RATE:
                rates[rule.name] = self._rates(rule, now)
        return rates

    def _rates(self, rule: Rule, now: float) -> Values:
        found: Values = {}
        for subject, seen in self._history.items():
            start = next((s for s in seen if s[0] >= now - rule.window_s), seen[-1])
            if start is seen[-1] and len(seen) > 1:
                start = seen[-2]  # a window shorter than the interval: the last step
            calls, failures = seen[-1][1] - start[1], seen[-1][2] - start[2]
            if calls >= rule.min_calls:
                found[subject] = failures / calls
        return found


def _chosen(values: Values, subject: str) -> Values:
    return dict(values) if subject == "*" else {k: v for k, v in values.items() if k == subject}


def _iso(at: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(at))
