"""Run every check in order against one target, then cancel whatever the run booked."""

from __future__ import annotations

import traceback
from datetime import UTC, datetime, timedelta

import aiohttp

from gateway.security.interactions import Interaction
from gateway.selftest._http import Consumer, Options, TargetUnreachable
from gateway.selftest._run import Check, Run, State, Unmet
from gateway.selftest.checks import (
    booking,
    cancel,
    includes,
    patients,
    security,
    slots,
    sweeps,
    wire,
)
from gateway.selftest.report import Report, Result

#: In the order they run: each group builds on what the ones before it found.
GROUPS: tuple[list[Check], ...] = (
    wire.CHECKS,
    slots.CHECKS,
    includes.CHECKS,
    security.CHECKS,
    booking.CHECKS,
    patients.BOOKED,
    cancel.CHECKS,
    patients.CANCELLED,
)
#: Slots are looked for from now + 1 h (never one about to start) over two days,
#: so opening hours and the night leave some.
WINDOW_FROM = timedelta(hours=1)
WINDOW_LENGTH = timedelta(days=2)


async def run_selftest(options: Options) -> Report:
    """Every check against ``options.target``; raises TargetUnreachable if it never answers."""
    now = datetime.now(UTC)
    report = Report(options.root, options.service)
    timeout = aiohttp.ClientTimeout(total=options.timeout_s)
    # auto_decompress off: the gzip checks must see the Content-Encoding as sent.
    async with aiohttp.ClientSession(timeout=timeout, auto_decompress=False) as session:
        run = Run(
            Consumer(session, options),
            options,
            State((now + WINDOW_FROM, now + WINDOW_FROM + WINDOW_LENGTH)),
        )
        await _probe(run)
        try:
            for group in GROUPS:
                for item in group:
                    report.add(await _one(run, item))
        finally:
            report.add(await cleanup(run))
        for item in sweeps.CHECKS:
            report.add(await _one(run, item))
    return report


async def _probe(run: Run) -> None:
    """One request first, so an unreachable target is a usage error, not 50 failures."""
    await run.consumer.send(Interaction.METADATA, "/metadata")
    run.consumer.replies.clear()


async def _one(run: Run, item: Check) -> Result:
    try:
        await item.body(run)
    except Unmet as exc:
        return Result(item.name, item.page, False, str(exc))
    except TargetUnreachable as exc:
        return Result(item.name, item.page, False, f"the target stopped answering: {exc}")
    except Exception as exc:  # an answer of a shape no check foresaw is a failure, not a crash
        where = traceback.extract_tb(exc.__traceback__)[-1]
        return Result(
            item.name,
            item.page,
            False,
            f"unexpected reply ({type(exc).__name__}: {exc} at line {where.lineno})",
        )
    return Result(item.name, item.page, True)


async def cleanup(run: Run) -> Result:
    """Cancel every appointment the run booked and has not cancelled, whatever happened."""
    left = []
    for appointment_id in list(run.state.to_cancel):
        try:
            await _cancel(run, appointment_id)
        except (Unmet, TargetUnreachable) as exc:
            left.append(
                f"Appointment/{appointment_id} ({run.state.to_cancel[appointment_id]}): {exc}"
            )
    name, page = "cleanup-cancels-every-booking", "cancel_an_appointment.md"
    if left:
        return Result(name, page, False, f"could not cancel {'; '.join(left)}")
    return Result(name, page, True)


async def _cancel(run: Run, appointment_id: str) -> None:
    reply = await cancel.latest(run, appointment_id)
    current = reply.resource()
    if reply.status != 200:
        raise Unmet(f"read answered {reply.seen()}")
    if current.get("status") == "cancelled":
        run.state.to_cancel.pop(appointment_id, None)
        return
    version = (current.get("meta") or {}).get("versionId")
    etag = reply.headers.get("ETag") or f'W/"{version}"'
    done = await cancel.put(run, appointment_id, cancel.cancelled_copy(current), {"If-Match": etag})
    if done.status != 200:
        raise Unmet(f"cancel answered {done.seen()}")
