"""The benchmark's consumer leg: a legacy HL7 v2 consumer books at a national FHIR provider.

"Legacy consumers connect unchanged": MLLP in, FHIR out, round trip, against a
bare baseline in the same run. Started from ``benchmarks.bench``
(``--no-consumer`` leaves it out). Everything runs on 127.0.0.1 as child processes:

1. the **provider**: ``python -m gateway serve`` over a fresh embedded demo diary
   (``bench.gateway_config``: own store, ``horizon_days: 3``, logging ``warning``,
   SSP enforcement off), in its own sub-folder of the run's temporary folder;
2. the **SSP**: ``python -m benchmarks.ssp_proxy``. The national FHIR adapter
   cannot run without one (``ssp_url`` is a required option and every request
   goes to ``<ssp_url>/<service root>/<path>``), so this pass-through proxy
   checks the ``Ssp-*`` headers, strips its prefix and forwards to the provider
   only (byte for byte, keep-alive);
3. the **consumer** gateway: ``python -m gateway serve`` with the HL7 v2 front
   door on (tables ``mappings/hl7_front_door/demo``, so service code
   ``UTC-DEMO`` is service ``918999198999``; one consumer, sending facility
   ``CAS-BENCH`` = ODS ``A1001``) and one adapter, ``kind: national-fhir``,
   whose directory CSV (written to the temporary folder) routes
   ``918999198999`` to the provider's service root via the proxy.

Scenarios, each an untimed warm-up then a measured phase bounded by
``--requests`` and ``--seconds`` at ``--concurrency``:

- *consumer-slot-search* via **consumer**: ``SQM^S25`` for ``UTC-DEMO`` and a
  start window holding ``CONSUMER_SLOTS`` free slots, over one pipelined
  ``MllpClient`` connection to the consumer's front door; every answer must be
  MSA ``AA`` and the first must hold ``CONSUMER_SLOTS`` SCH groups;
- *consumer-slot-search* via **bare**: the request the adapter makes for that
  query (``adapters.national_fhir._search.slot_params``: same service, window,
  status and ``_include`` chain) sent with aiohttp straight to the provider;
- *consumer-book+cancel* via **consumer**: ``SRM^S01`` then ``SRM^S04`` with
  the SRR's filler id, fresh MSH-10 each, both ``AA`` (the cancel's SCH says
  ``Cancelled``); a pool of free slots is cycled, a slot is given back only
  once cancelled; latency is the sum of the two exchanges;
- *consumer-book+cancel* via **bare**: ``POST /Appointment`` + ``PUT`` cancel
  straight to the provider (``bench.book_cancel_op``), on a disjoint pool.

So the ratio consumer/bare prices the whole detour of a legacy consumer: MLLP,
the front door, the consumer gateway's ledger and audit, the adapter (which asks
for gzip, and, to book, first finds the slot by a search of that instant and, to
cancel, reads the appointment before the PUT) and the proxy hop. Results go to
their own table and the JSON's ``consumer`` key; failures count toward the exit code.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import structlog
from yarl import URL

from adapters.domain import SlotQuery
from adapters.hl7v2.client import MllpClient, TransportError
from adapters.hl7v2.messages import scheduling as sched
from adapters.hl7v2.messages.er7 import Message, Segment, comp, segment
from adapters.hl7v2.messages.header import Header, msh, read_ack
from adapters.hl7v2.messages.values import short_id
from adapters.national_fhir._search import slot_params
from benchmarks._children import ROOT, Child, ChildError, Children, free_port, python_module
from benchmarks.bench import (
    BASE_PATH,
    SERVICE_ID,
    WARMUP_CAP_S,
    Op,
    Options,
    Outcome,
    PhaseResult,
    book_cancel_op,
    book_tickets,
    candidate_windows,
    consumer_headers,
    gateway_config,
    new_session,
    run_phase,
    search_op,
    search_tickets,
    slots_of,
)
from gateway.examples import EXAMPLE_NHS_NUMBER, booking_body
from gateway.security import Scope

CONSUMER_SLOTS = 50
SERVICE_CODE = "UTC-DEMO"
FACILITY = "CAS-BENCH"
CONSUMER_ODS = "A1001"
PROVIDER_ASID = "200000000115"
CONSUMER_ASID = "200000000359"
TABLES = ROOT / "mappings" / "hl7_front_door" / "demo"
LONDON = ZoneInfo("Europe/London")
WAIT_S = 30.0
SCENARIOS = ("consumer-slot-search", "consumer-book+cancel")
TARGETS = ("consumer", "bare")


# --------------------------------------------------------------------------- set-up


def consumer_config(folder: Path, port: int, hl7_port: int, ssp_url: str) -> Path:
    """The consumer gateway: HL7 front door on, one national-fhir adapter via the proxy."""
    options = {
        "ssp_url": ssp_url,
        "asid": CONSUMER_ASID,
        "directory": str(folder / "directory.csv"),
        "issuer": f"http://127.0.0.1:{port}/",
        "organisation": {"ods_code": "X26", "name": "Benchmark consumer gateway"},
        "device": {
            "system": f"http://127.0.0.1:{port}/Id/device",
            "value": "uec-gateway-bench",
            "model": "uec-gateway",
            "version": "0.1.0",
        },
        "timeout_s": WAIT_S,
    }
    text = f"""\
server:
  host: 127.0.0.1
  port: {port}
  service_root: http://127.0.0.1:{port}{BASE_PATH}
security:
  ssp:
    enforcement: "off"
store:
  path: {folder / "consumer.sqlite3"}
logging:
  format: json
  level: warning
adapters:
  - name: national
    kind: national-fhir
    options: {json.dumps(options)}
services:
  - id: "{SERVICE_ID}"
    adapter: national
hl7_front_door:
  host: 127.0.0.1
  port: {hl7_port}
  mappings: {TABLES}
  time_budget_s: {WAIT_S}
  consumers:
    - sending_facility: {FACILITY}
      ods_code: {CONSUMER_ODS}
      name: Benchmark legacy CAS
"""
    path = folder / "consumer.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def write_directory(folder: Path, provider_root: str) -> Path:
    path = folder / "directory.csv"
    path.write_text(
        "service_id,asid,service_root,name\n"
        f"{SERVICE_ID},{PROVIDER_ASID},{provider_root},Demo urgent treatment centre\n",
        encoding="utf-8",
    )
    return path


async def wait_for_port(child: Child, port: int, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        child.check_alive()
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return
        if time.monotonic() > deadline:
            raise ChildError(f"{child.name} not listening on {port} after {timeout_s:.0f}s")
        await asyncio.sleep(0.1)


@dataclass
class Chain:
    provider: Child
    proxy: Child
    consumer: Child
    hl7_port: int

    @property
    def provider_root(self) -> str:
        return f"{self.provider.url}{BASE_PATH}"


async def assemble(children: Children, folder: Path) -> Chain:
    provider = await children.launch(
        "provider",
        lambda port: python_module(
            "gateway", "serve", "--config", str(gateway_config(folder, port))
        ),
        folder / "provider.log",
    )
    root = f"{provider.url}{BASE_PATH}"
    write_directory(folder, root)
    proxy = await children.launch(
        "ssp-proxy",
        lambda port: python_module("benchmarks.ssp_proxy", "--port", str(port), "--allowed", root),
        folder / "ssp-proxy.log",
    )
    hl7_ports: list[int] = []

    def consumer_argv(port: int) -> list[str]:
        hl7_ports.append(free_port())  # a fresh one on every (re)try of the launch
        path = consumer_config(folder, port, hl7_ports[-1], proxy.url)
        return python_module("gateway", "serve", "--config", str(path))

    consumer = await children.launch("consumer", consumer_argv, folder / "consumer.log")
    await wait_for_port(consumer, hl7_ports[-1])
    return Chain(provider, proxy, consumer, hl7_ports[-1])


# --------------------------------------------------------------------------- HL7 messages


@dataclass(frozen=True)
class Offer:
    """A slot as a legacy consumer names it: schedule and times (HL7 has no slot ids)."""

    schedule: str
    start: datetime
    end: datetime


def pid() -> Segment:
    """The patient as a CAS sends one (the same person the FHIR baseline books)."""
    return segment(
        "PID",
        "1",
        None,
        comp(EXAMPLE_NHS_NUMBER, None, None, "NHS", "NH"),
        None,
        comp("Chalmers", "Peter", None, None, "Mr"),
        None,
        "19741225",
        "M",
        None,
        None,
        comp("123 High Street", None, "Leeds", None, "LS1 4HR"),
        None,
        comp("01234567890", "PRN", "PH"),
    )


class Legacy:
    """Builds SQM^S25 / SRM^S01 / SRM^S04 with the HL7 v2 toolkit, a fresh MSH-10 each."""

    def __init__(self) -> None:
        self.header = Header("CAS-APP", FACILITY, "UEC-GATEWAY", "GATEWAY", zone=LONDON)
        self.patient = pid()

    def _msh(self, code: str, trigger: str, structure: str) -> tuple[Segment, str]:
        control = short_id(uuid.uuid4().hex)
        return msh(self.header, code, trigger, structure, control, datetime.now(UTC)), control

    def search(self, first: datetime | None, last: datetime | None) -> tuple[bytes, str]:
        head, control = self._msh("SQM", "S25", "SQM_S25")
        query = sched.SlotQuery((SERVICE_CODE,), first, last, ("Open",), "Q1")
        message = sched.slot_query(head, query, datetime.now(UTC), LONDON)
        return message.to_er7().encode("utf-8"), control

    def book(self, offer: Offer) -> tuple[bytes, str]:
        head, control = self._msh("SRM", "S01", "SRM_S01")
        request = sched.ArqRequest(
            placer_id=f"PL-{uuid.uuid4().hex[:8]}",
            schedule=offer.schedule,
            start=offer.start,
            end=offer.end,
            description="Abdominal pain, 111 disposition Dx05",
            pid=self.patient,
        )
        segments = list(sched.booking_request(head, request, LONDON).segments)
        arq = list(segments[1].fields)
        arq += [""] * (25 - len(arq))
        arq[24] = comp(str(uuid.uuid4()), "CAS")  # ARQ-24: the CDA referral's id
        segments[1] = Segment(tuple(arq), segments[1].delimiters)
        segments.insert(-1, segment("AIS", "1", "A", comp(SERVICE_CODE, None, "L")))
        return Message(tuple(segments)).to_er7().encode("utf-8"), control

    def cancel(self, appointment_id: str) -> tuple[bytes, str]:
        head, control = self._msh("SRM", "S04", "SRM_S01")
        request = sched.ArqRequest(placer_id="", filler_id=appointment_id)
        return sched.cancel_request(head, request, LONDON).to_er7().encode("utf-8"), control


def _refused(answer: Message, what: str) -> str | None:
    """None if MSA-1 is AA; else a short error naming the first ERR."""
    try:
        ack = read_ack(answer)
    except ValueError:
        return f"{what} -> no MSA"
    if ack.code == "AA":
        return None
    first = ack.errors[0].application_code if ack.errors else ack.text[:40]
    return f"{what} -> {ack.code} {first}"


def mllp_search_op(client: MllpClient, legacy: Legacy, window: tuple[datetime, datetime]) -> Op:
    async def op(index: int, _deadline: float) -> Outcome:
        payload, control = legacy.search(*window)
        try:
            started = time.perf_counter()
            answer = await client.exchange(payload, control, WAIT_S)
            latency = time.perf_counter() - started
        except TransportError as exc:
            return Outcome(None, f"SQM^S25: {type(exc).__name__}")
        error = _refused(answer, "SQR^S25")
        if error is not None:
            return Outcome(None, error)
        if index == 0:  # the first answer of every phase is checked, outside the timing
            found = len(sched.groups(answer))
            if found != CONSUMER_SLOTS:
                return Outcome(None, f"SQR^S25 -> {found} slots, expected {CONSUMER_SLOTS}")
        return Outcome(latency, None, len(answer.to_er7()))

    return op


def mllp_book_cancel_op(client: MllpClient, legacy: Legacy, pool: asyncio.Queue[Offer]) -> Op:
    """Take a free slot, SRM^S01 it, SRM^S04 the booking, give the slot back if both were AA."""
    loop = asyncio.get_running_loop()

    async def op(_index: int, deadline: float) -> Outcome:
        try:
            offer = await asyncio.wait_for(pool.get(), max(deadline - loop.time(), 1.0))
        except TimeoutError:
            return Outcome(None, "no free slot left in the pool")
        payload, control = legacy.book(offer)
        try:
            started = time.perf_counter()
            booked = await client.exchange(payload, control, WAIT_S)
            book_s = time.perf_counter() - started
        except TransportError as exc:
            return Outcome(None, f"SRM^S01: {type(exc).__name__}")
        error = _refused(booked, "SRR^S01")
        if error is not None:
            return Outcome(None, error)
        found = sched.groups(booked)
        filler = sched.read_group(found[0], LONDON).filler_id if found else ""
        if not filler:
            return Outcome(None, "SRR^S01 -> no SCH-2 filler id")
        payload, control = legacy.cancel(filler)
        try:
            started = time.perf_counter()
            cancelled = await client.exchange(payload, control, WAIT_S)
            cancel_s = time.perf_counter() - started
        except TransportError as exc:
            return Outcome(None, f"SRM^S04: {type(exc).__name__}")
        error = _refused(cancelled, "SRR^S04")
        if error is not None:
            return Outcome(None, error)
        found = sched.groups(cancelled)
        if not found or sched.read_group(found[0], LONDON).status != "Cancelled":
            return Outcome(None, "SRR^S04 -> not Cancelled")
        pool.put_nowait(offer)  # cancelled, so free again
        size = len(booked.to_er7()) + len(cancelled.to_er7())
        return Outcome(book_s + cancel_s, None, size)

    return op


# --------------------------------------------------------------------------- calibration


@dataclass
class Calibration:
    free_slots: int
    first: datetime
    last: datetime
    bare_search: URL
    offers: list[Offer]
    bare_pool: list[str]
    bodies: dict[str, bytes]


def _start(slot: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(str(slot["start"]))


def _offer(slot: dict[str, Any]) -> Offer:
    schedule = str(slot["schedule"]["reference"]).rpartition("/")[2]
    return Offer(schedule, _start(slot), datetime.fromisoformat(str(slot["end"])))


def bare_search_url(root: str, first: datetime | None, last: datetime | None) -> URL:
    """The GET /Slot the national-fhir adapter sends for this query, straight to ``root``."""
    query = SlotQuery(service_id=SERVICE_ID, start_from=first, start_to=last)
    return URL(f"{root}/Slot", encoded=True).with_query(slot_params(query))


async def calibrate(opts: Options, chain: Chain, client: MllpClient, legacy: Legacy) -> Calibration:
    """A window of exactly CONSUMER_SLOTS slots both ways, and two disjoint slot pools."""
    root = chain.provider_root
    async with new_session(opts) as session:
        headers = consumer_headers(Scope.SLOT_READ, "read:slot", root)
        async with session.get(bare_search_url(root, None, None), headers=headers) as resp:
            if resp.status != 200:
                raise RuntimeError(f"provider slot search: {resp.status} {await resp.text()}")
            everything = slots_of(await resp.json(content_type=None))
        earliest = datetime.now(UTC) + timedelta(seconds=600 + 4 * (opts.seconds + WARMUP_CAP_S))
        window: tuple[datetime, datetime] | None = None
        for tried, (first, last) in enumerate(
            candidate_windows(everything, earliest, CONSUMER_SLOTS)
        ):
            if tried >= 25:
                break
            headers = consumer_headers(Scope.SLOT_READ, "read:slot", root)
            async with session.get(bare_search_url(root, first, last), headers=headers) as resp:
                bare_found = len(slots_of(await resp.json(content_type=None)))
            payload, control = legacy.search(first, last)
            answer = await client.exchange(payload, control, WAIT_S)
            error = _refused(answer, "SQR^S25")
            if error is not None:
                raise RuntimeError(f"consumer slot search failed: {error}")
            if bare_found == CONSUMER_SLOTS == len(sched.groups(answer)):
                window = (first, last)
                break
        if window is None:
            raise RuntimeError(
                f"no start window gives exactly {CONSUMER_SLOTS} free slots both via the "
                f"consumer and at the provider ({len(everything)} free slots)"
            )
        first, last = window
        others = sorted(
            (s for s in everything if _start(s) >= earliest and not first <= _start(s) <= last),
            key=_start,
        )
        size = min(opts.pool, len(others) // 2)
        if size < opts.concurrency:
            raise RuntimeError(
                f"only {len(others)} free slots outside the search window; consumer "
                f"book+cancel needs two pools of at least --concurrency={opts.concurrency}"
            )
        offers = [_offer(s) for s in others[:size]]
        bare_pool = others[size : 2 * size]
        # One real booking and cancel through the whole chain before anything is measured.
        pool: asyncio.Queue[Offer] = asyncio.Queue()
        pool.put_nowait(offers[0])
        check = mllp_book_cancel_op(client, legacy, pool)
        outcome = await check(0, asyncio.get_running_loop().time() + WAIT_S)
        if outcome.error is not None:
            raise RuntimeError(f"the start-up booking through the consumer failed: {outcome.error}")
    return Calibration(
        free_slots=len(everything),
        first=first,
        last=last,
        bare_search=bare_search_url(root, first, last),
        offers=offers,
        bare_pool=[s["id"] for s in bare_pool],
        bodies={s["id"]: json.dumps(booking_body(s)).encode() for s in bare_pool},
    )


# --------------------------------------------------------------------------- measuring


async def _phases(
    opts: Options, scenario: str, target: str, make: Callable[[int], Op]
) -> PhaseResult:
    """``make(count)`` builds a fresh op (fresh tickets) for a warm-up then a measured phase."""
    if opts.warmup:
        await run_phase(
            scenario,
            target,
            make(opts.warmup),
            opts.warmup,
            min(opts.seconds, WARMUP_CAP_S),
            opts.concurrency,
        )
    return await run_phase(
        scenario, target, make(opts.requests), opts.requests, opts.seconds, opts.concurrency
    )


@dataclass
class ConsumerRun:
    chain: Chain
    cal: Calibration
    results: list[PhaseResult]


async def measure(opts: Options, chain: Chain, client: MllpClient, legacy: Legacy) -> ConsumerRun:
    cal = await calibrate(opts, chain, client, legacy)
    root = chain.provider_root
    window = (cal.first, cal.last)
    results: list[PhaseResult] = []
    # consumer-slot-search
    results.append(
        await _phases(
            opts,
            SCENARIOS[0],
            "consumer",
            lambda _n: mllp_search_op(client, legacy, window),
        )
    )
    async with new_session(opts) as session:
        results.append(
            await _phases(
                opts,
                SCENARIOS[0],
                "bare",
                lambda n: search_op(
                    session, cal.bare_search, search_tickets(n, root), CONSUMER_SLOTS
                ),
            )
        )
    # consumer-book+cancel
    offers: asyncio.Queue[Offer] = asyncio.Queue()
    for offer in cal.offers:
        offers.put_nowait(offer)
    results.append(
        await _phases(
            opts,
            SCENARIOS[1],
            "consumer",
            lambda _n: mllp_book_cancel_op(client, legacy, offers),
        )
    )
    async with new_session(opts) as session:
        slots: asyncio.Queue[str] = asyncio.Queue()
        for slot_id in cal.bare_pool:
            slots.put_nowait(slot_id)
        results.append(
            await _phases(
                opts,
                SCENARIOS[1],
                "bare",
                lambda n: book_cancel_op(
                    session, chain.provider.url, book_tickets(n, root), slots, cal.bodies
                ),
            )
        )
    return ConsumerRun(chain, cal, results)


async def run_consumer_leg(opts: Options, folder: Path) -> ConsumerRun:
    """Start provider, proxy and consumer gateway, measure, stop them; the run's facts."""
    # The benchmark's own MLLP client logs at info; keep the report readable.
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    folder = folder / "consumer-leg"
    folder.mkdir(exist_ok=True)
    children = Children()
    try:
        chain = await assemble(children, folder)
        for name, child in (
            ("provider", chain.provider),
            ("ssp proxy", chain.proxy),
            ("consumer", chain.consumer),
        ):
            print(f"consumer leg {name + ':':<10} {child.command}  (port {child.port})")
        print(f"consumer leg mllp:      127.0.0.1:{chain.hl7_port} (front door of the consumer)")
        client = MllpClient("127.0.0.1", chain.hl7_port, log_name="bench-consumer")
        try:
            run = await measure(opts, chain, client, Legacy())
        finally:
            await client.close()
        for child in children.started:
            child.check_alive()
        return run
    finally:
        stopped = children.stop_all()
        print("consumer servers stopped: " + ", ".join(f"{n} exit {c}" for n, c in stopped.items()))


# --------------------------------------------------------------------------- report


def ratios(results: list[PhaseResult]) -> dict[str, dict[str, float]]:
    by = {(r.scenario, r.target): r for r in results}
    out: dict[str, dict[str, float]] = {}
    for scenario in SCENARIOS:
        via, bare = by.get((scenario, "consumer")), by.get((scenario, "bare"))
        if via is None or bare is None:
            continue
        out[scenario] = {
            "throughput_consumer_over_bare": via.rate / bare.rate if bare.rate else float("nan"),
            "p50_consumer_over_bare": via.pct_ms(50) / bare.pct_ms(50)
            if bare.pct_ms(50)
            else float("nan"),
        }
    return out


def report_consumer(run: ConsumerRun) -> dict[str, Any]:
    """Print the consumer-leg table and the consumer/bare ratios; the facts for --json."""
    cal, results = run.cal, run.results
    print()
    print(
        "Consumer leg: legacy HL7 v2 consumer -> MLLP -> consumer gateway -> national-fhir "
        "-> SSP proxy -> provider gateway (consumer), vs FHIR straight to the provider (bare)"
    )
    lower, upper = (t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") for t in (cal.first, cal.last))
    print(
        f"window:      {lower} .. {upper} -> {CONSUMER_SLOTS} slots of {cal.free_slots} free; "
        f"book+cancel cycles {len(cal.offers)} (consumer) and {len(cal.bare_pool)} (bare) others"
    )
    header = (
        f"{'scenario':<21} {'target':<8} {'requests':>9} {'failures':>9} "
        f"{'req/s':>9} {'p50 ms':>9} {'p99 ms':>9} {'seconds':>8}"
    )
    print(header)
    print("-" * len(header))
    for r in results:
        print(
            f"{r.scenario:<21} {r.target:<8} {r.requests:>9} {r.failures:>9} "
            f"{r.rate:>9.1f} {r.pct_ms(50):>9.2f} {r.pct_ms(99):>9.2f} {r.elapsed_s:>8.2f}"
        )
    ratio = ratios(results)
    for scenario, values in ratio.items():
        print(
            f"ratio {scenario}: throughput consumer/bare = "
            f"{values['throughput_consumer_over_bare']:.3f}, "
            f"p50 latency consumer/bare = {values['p50_consumer_over_bare']:.2f}"
        )
    for r in results:
        for error, n in r.errors.most_common():
            print(f"  {r.scenario} {r.target}: {n} x {error}")
    failures = sum(r.failures for r in results)
    print(f"consumer failures: {failures}")
    return {
        "servers": {
            name: {"command": child.command, "port": child.port}
            for name, child in (
                ("provider", run.chain.provider),
                ("ssp_proxy", run.chain.proxy),
                ("consumer", run.chain.consumer),
            )
        },
        "mllp_port": run.chain.hl7_port,
        "slots_per_search": CONSUMER_SLOTS,
        "search_window": {"start_ge": lower, "start_le": upper},
        "pools": {"consumer": len(cal.offers), "bare": len(cal.bare_pool)},
        "results": [r.as_dict() for r in results],
        "ratios": ratio,
        "failures": failures,
    }
