"""Shadow replay: a window of journaled inbound messages through a candidate configuration.

Each message's payload is evaluated by its route's adapter module (``evaluator`` of
``adapters.journaling``) under the candidate configuration's options, and under the
current configuration's when one is given, with no I/O: nothing is written to the
store, no supplier is called, no ACK is sent. The store is only read. What is printed
is, per message, the recorded outcome against the would-be one and the mapped fields
that differ (codes and ids only, never patient values).
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime

from adapters.journaling import Evaluation
from adapters.registry import ADAPTERS
from gateway.config import Settings
from gateway.msgjournal.sink import MessageJournal, NotReplayable
from gateway.store.messages import MessageRecord

Evaluate = Callable[[bytes], Evaluation]


@dataclass(frozen=True, slots=True)
class Difference:
    id: str
    at: str
    route: str
    control_id: str
    before: str
    after: str
    before_reason_code: str
    after_reason_code: str
    before_reason: str = ""
    after_reason: str = ""
    #: field -> [current, candidate], for the fields that differ.
    fields: dict[str, list[str]] = field(default_factory=dict)

    @property
    def changed(self) -> bool:
        return self.before != self.after or bool(self.fields)


def evaluators(settings: Settings) -> dict[str, Evaluate | str]:
    """Per route, what evaluates its messages under ``settings``, or why nothing can."""
    found: dict[str, Evaluate | str] = {}
    for item in settings.adapters:
        target = ADAPTERS.get(item.kind)
        module = importlib.import_module(target.partition(":")[0]) if target else None
        make = getattr(module, "evaluator", None)
        if make is None:
            found[item.name] = f"adapter kind '{item.kind}' has no shadow evaluator"
            continue
        try:
            found[item.name] = make(item.name, item.options, settings.base_dir)
        except ValueError as exc:
            found[item.name] = f"the configuration of '{item.name}' is unusable: {exc}"
    return found


def _outcome(evaluate: Evaluate | str | None, payload: bytes) -> Evaluation:
    if evaluate is None:
        return Evaluation("not-evaluated", reason="no adapter of this name evaluates it")
    if isinstance(evaluate, str):
        return Evaluation("not-evaluated", reason=evaluate)
    return evaluate(payload)


def compare(
    record: MessageRecord,
    payload: bytes | None,
    current: Mapping[str, Evaluate | str] | None,
    candidate: Mapping[str, Evaluate | str],
) -> Difference:
    """One message: its recorded outcome against the candidate's, and the fields that move."""
    base = (record.id, record.at.isoformat(), record.route, record.control_id)
    if payload is None:
        return Difference(
            *base, record.outcome, "not-evaluated", record.reason_code, "", record.reason
        )
    after = _outcome(candidate.get(record.route), payload)
    moved: dict[str, list[str]] = {}
    if current is not None:
        was = _outcome(current.get(record.route), payload).fields
        for name in sorted(set(was) | set(after.fields)):
            old, new = was.get(name, ""), after.fields.get(name, "")
            if old != new:
                moved[name] = [old, new]
    return Difference(
        *base,
        record.outcome,
        after.outcome,
        record.reason_code,
        after.reason_code,
        record.reason,
        after.reason,
        moved,
    )


async def shadow(
    journal: MessageJournal,
    candidate: Settings,
    current: Settings | None,
    since: datetime,
    until: datetime,
) -> list[Difference]:
    """Every inbound message journaled in ``[since, until)`` compared; the store only read."""
    new = evaluators(candidate)
    old = evaluators(current) if current is not None else None
    found: list[Difference] = []
    for record in await journal.store.messages_between(since, until):
        try:
            payload: bytes | None = journal.payload(record)
        except NotReplayable:
            payload = None
        found.append(compare(record, payload, old, new))
    return found


def render_json(found: list[Difference]) -> str:
    rows = [{**asdict(d), "changed": d.changed} for d in found]
    summary = {"messages": len(found), "changed": sum(d.changed for d in found)}
    return json.dumps({"summary": summary, "messages": rows}, indent=2)


def render_text(found: list[Difference]) -> str:
    lines = []
    for d in found:
        mark = "CHANGED" if d.changed else "same   "
        code = f" ({d.before_reason_code or '-'} -> {d.after_reason_code or '-'})"
        lines.append(
            f"{mark} {d.id} {d.at} {d.route} {d.control_id}: {d.before} -> {d.after}{code}"
        )
        if d.before_reason:
            lines.append(f"    was: {d.before_reason}")
        if d.after_reason:
            lines.append(f"    would be: {d.after_reason}")
        for name, (old, new) in d.fields.items():
            lines.append(f"    {name}: {old or '-'} -> {new or '-'}")
    changed = sum(d.changed for d in found)
    lines.append(f"{len(found)} messages, {changed} would change")
    return "\n".join(lines)
