"""Gateway vs bare aiohttp: slot search and book+cancel throughput and latency, in one run.

    .venv/bin/python -m benchmarks.bench [--requests 2000] [--seconds 20] [--concurrency 8]

What it does:

1. starts ``python -m gateway serve`` on a temporary configuration (fresh store,
   fresh embedded diary over the demo data, ``horizon_days: 3``, logging at
   ``warning``) on a free 127.0.0.1 port, and waits for ``/health``;
2. finds a slot-search start window that returns exactly 50 free slots with the
   full ``_include`` chain, and a pool of other free slots to book and cancel;
   captures one real search, booking and cancel response;
3. starts ``python -m benchmarks.bare`` (a bare aiohttp app that serves those
   captured bytes) on another free port, and waits for its ``/health``;
4. loads each server in turn from this process (one ``ClientSession``,
   keep-alive, bounded concurrency), each phase bounded by a request count
   and a time cap, after an untimed warm-up;
5. prints a table, the gateway/bare ratios and the failure count (which must be
   0; the exit code is 1 otherwise), optionally writes JSON, and stops both
   servers.

A "request" of the book+cancel scenario is one POST /Appointment then one PUT
/Appointment/{id} (status cancelled, ``If-Match`` from the booking's ETag); its
latency is the sum of the two calls. Cancelling frees the slot, so a small pool
of slots is cycled, one operation per slot at a time. JWTs, request ids and
booking bodies are prepared before each phase, outside the timed region.

6. unless ``--no-hl7``, runs the HL7 leg (``benchmarks.hl7_leg``): the PAS peer, a
   gateway fronting it over MLLP, and bare MLLP to the same peer, in the same run.
7. unless ``--no-consumer``, runs the consumer leg (``benchmarks.consumer_leg``): a
   legacy HL7 v2 consumer's MLLP round trip through a gateway with the HL7 front
   door and the national-fhir adapter to a provider gateway, against FHIR sent
   straight to that provider, in the same run.

This is a benchmark, not a test: it asserts nothing about speed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shlex
import signal
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
from yarl import URL

from benchmarks._children import ROOT, Child, ChildError, Children, python_module
from benchmarks.bare import CannedResponse, Fixtures
from gateway.examples import booking_body
from gateway.security import Scope
from gateway.security.tokens import mint_token

SERVICE_ID = "918999198999"
BASE_PATH = "/STU3/1/careconnect/appointment"
DEMO_DATA = ROOT / "mappings" / "embedded" / "demo"
HORIZON_DAYS = 3
SLOTS_WANTED = 50
INCLUDES = (
    "&_include=Slot:schedule"
    "&_include:iterate=Schedule:actor:Practitioner"
    "&_include:iterate=Schedule:actor:PractitionerRole"
    "&_include:iterate=Schedule:actor:HealthcareService"
    "&_include:iterate=HealthcareService:Organization"
    "&_include:iterate=HealthcareService:Location"
)
#: Tokens are minted just before a phase and live 300 s (fs_authentication.md).
MAX_SECONDS = 240.0
WARMUP_CAP_S = 10.0
REQUEST_TIMEOUT_S = 30.0
SSP_FROM = "200000000359"
SSP_TO = "200000000115"
SCENARIOS = ("slot-search", "book+cancel")
TARGETS = ("gateway", "bare")


# --------------------------------------------------------------------------- options


@dataclass(frozen=True)
class Options:
    requests: int
    seconds: float
    concurrency: int
    warmup: int
    pool: int
    gzip: bool
    json_path: Path | None
    hl7: bool = True
    consumer: bool = True


def _positive_int(raw: str) -> int:
    value = int(raw)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{raw} is not a positive integer")
    return value


def _seconds(raw: str) -> float:
    value = float(raw)
    if not 0 < value <= MAX_SECONDS:
        raise argparse.ArgumentTypeError(
            f"{raw}: give 0 < seconds <= {MAX_SECONDS:.0f} (tokens are minted per phase)"
        )
    return value


def parse_args(argv: Sequence[str] | None) -> Options:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.bench",
        description="Benchmark the gateway against a bare aiohttp baseline.",
    )
    parser.add_argument(
        "--requests",
        type=_positive_int,
        default=2000,
        help="measured requests per scenario and target (default 2000)",
    )
    parser.add_argument(
        "--seconds",
        type=_seconds,
        default=20.0,
        help="time cap of each measured phase, whichever of count/time comes first (default 20)",
    )
    parser.add_argument(
        "--concurrency", type=_positive_int, default=8, help="requests in flight (default 8)"
    )
    parser.add_argument(
        "--warmup",
        type=int,
        default=50,
        help="untimed requests before each measured phase (default 50; 0 for none)",
    )
    parser.add_argument(
        "--pool",
        type=_positive_int,
        default=64,
        help="free slots cycled by book+cancel (default 64; at least --concurrency)",
    )
    parser.add_argument(
        "--gzip",
        action="store_true",
        help="send Accept-Encoding: gzip (default identity, so compression is not measured)",
    )
    parser.add_argument("--json", dest="json_path", type=Path, help="also write results here")
    parser.add_argument(
        "--no-hl7",
        dest="hl7",
        action="store_false",
        help="skip the HL7 leg (gateway -> PAS peer over MLLP, and bare MLLP)",
    )
    parser.add_argument(
        "--no-consumer",
        dest="consumer",
        action="store_false",
        help="skip the consumer leg (legacy MLLP -> gateway -> national FHIR -> provider)",
    )
    args = parser.parse_args(argv)
    if args.warmup < 0:
        parser.error("--warmup must be 0 or more")
    if args.pool < args.concurrency:
        parser.error("--pool must be at least --concurrency (one operation per slot at a time)")
    return Options(
        requests=args.requests,
        seconds=args.seconds,
        concurrency=args.concurrency,
        warmup=args.warmup,
        pool=args.pool,
        gzip=args.gzip,
        json_path=args.json_path,
        hl7=args.hl7,
        consumer=args.consumer,
    )


# --------------------------------------------------------------------------- consumer side


def gateway_config(folder: Path, port: int) -> Path:
    """A configuration like tests/api/conftest.py's, quiet logs, everything in ``folder``."""
    text = f"""\
server:
  host: 127.0.0.1
  port: {port}
  service_root: http://127.0.0.1:{port}{BASE_PATH}
security:
  ssp:
    enforcement: "off"
    asid: "{SSP_TO}"
store:
  path: {folder / "gateway.sqlite3"}
logging:
  format: json
  level: warning
adapters:
  - name: diary
    kind: embedded
    options:
      database: {folder / "embedded.sqlite3"}
      data_dir: {DEMO_DATA}
      horizon_days: {HORIZON_DAYS}
services:
  - id: "{SERVICE_ID}"
    adapter: diary
"""
    path = folder / "gateway.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def consumer_headers(scope: Scope, interaction: str, audience: str) -> dict[str, str]:
    """What a national consumer sends: a fresh JWT, SSP headers and a fresh X-Request-ID."""
    token = mint_token(scope=scope.value, audience=audience, organisation_ods="A1001")
    return {
        "Authorization": f"Bearer {token}",
        "Ssp-TraceID": str(uuid.uuid4()),
        "Ssp-From": SSP_FROM,
        "Ssp-To": SSP_TO,
        "Ssp-InteractionID": f"urn:nhs:names:services:careconnect:fhir:rest:{interaction}",
        "X-Request-ID": str(uuid.uuid4()),
    }


def search_url(root: str, window: str = "") -> URL:
    return URL(f"{root}{BASE_PATH}/Slot?service={SERVICE_ID}{INCLUDES}{window}", encoded=True)


def window_query(first: datetime, last: datetime) -> str:
    lower, upper = (t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") for t in (first, last))
    return f"&start=ge{lower}&start=le{upper}"


def slots_of(bundle: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        e["resource"]
        for e in bundle.get("entry") or []
        if e.get("resource", {}).get("resourceType") == "Slot"
    ]


def _start(slot: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(str(slot["start"]))


def candidate_windows(
    slots: list[dict[str, Any]], earliest: datetime, size: int
) -> Iterator[tuple[datetime, datetime]]:
    """Runs of consecutive start times, from ``earliest`` on, holding exactly ``size`` slots."""
    per_start = Counter(_start(s) for s in slots)
    starts = sorted(per_start)
    for i, first in enumerate(starts):
        if first < earliest:
            continue
        total = 0
        for last in starts[i:]:
            total += per_start[last]
            if total == size:
                yield first, last
            if total >= size:
                break


# --------------------------------------------------------------------------- measuring


@dataclass(frozen=True)
class Outcome:
    latency_s: float | None
    error: str | None = None
    response_bytes: int = 0


Op = Callable[[int, float], Awaitable[Outcome]]


def percentile(sorted_values: Sequence[float], pct: float) -> float:
    """Linear interpolation between closest ranks (numpy's default); NaN when empty."""
    if not sorted_values:
        return float("nan")
    rank = (len(sorted_values) - 1) * pct / 100
    low = int(rank)
    high = min(low + 1, len(sorted_values) - 1)
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (rank - low)


@dataclass
class PhaseResult:
    scenario: str
    target: str
    elapsed_s: float
    latencies_s: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    response_bytes: int = 0

    @property
    def requests(self) -> int:
        return len(self.latencies_s) + self.failures

    @property
    def failures(self) -> int:
        return sum(self.errors.values())

    @property
    def rate(self) -> float:
        return self.requests / self.elapsed_s if self.elapsed_s > 0 else float("nan")

    def pct_ms(self, pct: float) -> float:
        return percentile(sorted(self.latencies_s), pct) * 1000

    def as_dict(self) -> dict[str, Any]:
        ok = len(self.latencies_s)
        return {
            "scenario": self.scenario,
            "target": self.target,
            "requests": self.requests,
            "failures": self.failures,
            "errors": dict(self.errors),
            "elapsed_s": round(self.elapsed_s, 4),
            "req_per_s": round(self.rate, 2),
            "p50_ms": round(self.pct_ms(50), 3),
            "p99_ms": round(self.pct_ms(99), 3),
            "mean_response_bytes": round(self.response_bytes / ok) if ok else None,
        }


async def run_phase(
    scenario: str, target: str, op: Op, count: int, seconds: float, concurrency: int
) -> PhaseResult:
    """``concurrency`` workers share ``count`` requests; no new request after ``seconds``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    issued = 0
    outcomes: list[Outcome] = []

    async def worker() -> None:
        nonlocal issued
        while issued < count and loop.time() < deadline:
            index = issued
            issued += 1
            outcomes.append(await op(index, deadline))

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(min(concurrency, count))))
    result = PhaseResult(scenario, target, time.perf_counter() - started)
    for outcome in outcomes:
        if outcome.error is not None or outcome.latency_s is None:
            result.errors[outcome.error or "unknown"] += 1
        else:
            result.latencies_s.append(outcome.latency_s)
            result.response_bytes += outcome.response_bytes
    return result


def search_op(
    session: aiohttp.ClientSession, url: URL, tickets: list[dict[str, str]], expect: int
) -> Op:
    async def op(index: int, _deadline: float) -> Outcome:
        try:
            started = time.perf_counter()
            async with session.get(url, headers=tickets[index]) as resp:
                raw = await resp.read()
            latency = time.perf_counter() - started
        except (aiohttp.ClientError, TimeoutError) as exc:
            return Outcome(None, f"GET /Slot: {type(exc).__name__}")
        if resp.status != 200:
            return Outcome(None, f"GET /Slot -> {resp.status}")
        if index == 0:  # the first answer of every phase is checked, outside the timing
            found = len(slots_of(json.loads(raw)))
            if found != expect:
                return Outcome(None, f"GET /Slot -> {found} slots, expected {expect}")
        return Outcome(latency, None, len(raw))

    return op


@dataclass(frozen=True)
class BookTicket:
    book_headers: dict[str, str]
    cancel_headers: dict[str, str]


def book_tickets(count: int, audience: str) -> list[BookTicket]:
    json_type = {"Content-Type": "application/fhir+json"}
    return [
        BookTicket(
            {
                **consumer_headers(Scope.APPOINTMENT_WRITE, "create:appointment", audience),
                **json_type,
            },
            {
                **consumer_headers(Scope.APPOINTMENT_WRITE, "update:appointment", audience),
                **json_type,
            },
        )
        for _ in range(count)
    ]


def search_tickets(count: int, audience: str) -> list[dict[str, str]]:
    return [consumer_headers(Scope.SLOT_READ, "read:slot", audience) for _ in range(count)]


@dataclass
class Captured:
    book: CannedResponse
    cancel: CannedResponse


def _canned(status: int, headers: Any, raw: bytes) -> CannedResponse:
    return {"status": status, "headers": dict(headers), "body": raw.decode("utf-8")}


def book_cancel_op(
    session: aiohttp.ClientSession,
    root: str,
    tickets: list[BookTicket],
    pool: asyncio.Queue[str],
    bodies: dict[str, bytes],
    capture: list[Captured] | None = None,
) -> Op:
    """Take a free slot, book it, cancel the booking, give the slot back (only if both worked)."""
    appointments = URL(f"{root}{BASE_PATH}/Appointment", encoded=True)
    loop = asyncio.get_running_loop()

    async def op(index: int, deadline: float) -> Outcome:
        ticket = tickets[index]
        try:
            slot_id = await asyncio.wait_for(pool.get(), max(deadline - loop.time(), 1.0))
        except TimeoutError:
            return Outcome(None, "no free slot left in the pool")
        try:
            started = time.perf_counter()
            async with session.post(
                appointments, data=bodies[slot_id], headers=ticket.book_headers
            ) as resp:
                booked_raw = await resp.read()
            book_s = time.perf_counter() - started
            if resp.status != 201:
                return Outcome(None, f"POST /Appointment -> {resp.status}")
            etag = resp.headers.get("ETag", 'W/"1"')
            booked_headers = resp.headers
            # The consumer's work between the calls: not part of either call's latency.
            appointment = json.loads(booked_raw)
            appointment["status"] = "cancelled"
            cancel_body = json.dumps(appointment).encode()
            cancel_url = appointments / str(appointment["id"])
            started = time.perf_counter()
            async with session.put(
                cancel_url, data=cancel_body, headers={**ticket.cancel_headers, "If-Match": etag}
            ) as resp:
                cancelled_raw = await resp.read()
            cancel_s = time.perf_counter() - started
            if resp.status != 200:
                return Outcome(None, f"PUT /Appointment/{{id}} -> {resp.status}")
        except (aiohttp.ClientError, TimeoutError) as exc:
            return Outcome(None, f"book+cancel: {type(exc).__name__}")
        pool.put_nowait(slot_id)  # cancelled, so free again
        if capture is not None:
            capture.append(
                Captured(
                    _canned(201, booked_headers, booked_raw),
                    _canned(200, resp.headers, cancelled_raw),
                )
            )
        return Outcome(book_s + cancel_s, None, len(booked_raw) + len(cancelled_raw))

    return op


def new_session(opts: Options) -> aiohttp.ClientSession:
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=opts.concurrency),
        timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S),
        headers={"Accept-Encoding": "gzip" if opts.gzip else "identity"},
    )


# --------------------------------------------------------------------------- the run


@dataclass
class Calibration:
    free_slots: int
    window: str
    search_entries: Counter[str]
    search: CannedResponse
    pool: list[str]
    bodies: dict[str, bytes]
    captured: Captured


async def calibrate(opts: Options, gateway: Child, audience: str) -> Calibration:
    """Window of exactly 50 slots, the pool of other free slots, and the responses to replay."""
    async with new_session(opts) as session:
        headers = consumer_headers(Scope.SLOT_READ, "read:slot", audience)
        async with session.get(search_url(gateway.url), headers=headers) as resp:
            if resp.status != 200:
                raise RuntimeError(f"slot search failed: {resp.status} {await resp.text()}")
            everything = slots_of(await resp.json(content_type=None))
        margin = timedelta(seconds=600 + 4 * (opts.seconds + WARMUP_CAP_S))
        earliest = datetime.now(UTC) + margin
        window = ""
        search: CannedResponse | None = None
        kinds: Counter[str] = Counter()
        in_window: set[str] = set()
        tried = 0
        for first, last in candidate_windows(everything, earliest, SLOTS_WANTED):
            tried += 1
            if tried > 25:
                break
            window = window_query(first, last)
            headers = consumer_headers(Scope.SLOT_READ, "read:slot", audience)
            async with session.get(search_url(gateway.url, window), headers=headers) as resp:
                raw = await resp.read()
                if resp.status != 200:
                    continue
                bundle = json.loads(raw)
                found = slots_of(bundle)
                if len(found) == SLOTS_WANTED:  # else: move the window and try again
                    search = _canned(resp.status, resp.headers, raw)
                    kinds = Counter(e["resource"]["resourceType"] for e in bundle["entry"])
                    in_window = {s["id"] for s in found}
                    break
        if search is None:
            raise RuntimeError(
                f"no start window gives exactly {SLOTS_WANTED} free slots "
                f"({len(everything)} free slots in the diary, {tried} windows tried)"
            )
        pool_slots = [s for s in everything if s["id"] not in in_window and _start(s) >= earliest][
            : opts.pool
        ]
        if len(pool_slots) < opts.concurrency:
            raise RuntimeError(
                f"only {len(pool_slots)} free slots outside the search window; "
                f"book+cancel needs at least --concurrency={opts.concurrency}"
            )
        bodies = {s["id"]: json.dumps(booking_body(s)).encode() for s in pool_slots}
        # One real booking and cancel: checks the cycle works and gives the bodies to replay.
        queue: asyncio.Queue[str] = asyncio.Queue()
        queue.put_nowait(pool_slots[0]["id"])
        captured: list[Captured] = []
        op = book_cancel_op(
            session, gateway.url, book_tickets(1, audience), queue, bodies, captured
        )
        outcome = await op(0, asyncio.get_running_loop().time() + REQUEST_TIMEOUT_S)
        if outcome.error is not None:
            raise RuntimeError(f"the start-up booking failed: {outcome.error}")
    return Calibration(
        free_slots=len(everything),
        window=window,
        search_entries=kinds,
        search=search,
        pool=[s["id"] for s in pool_slots],
        bodies=bodies,
        captured=captured[0],
    )


async def measure(
    opts: Options, scenario: str, target: str, root: str, audience: str, cal: Calibration
) -> PhaseResult:
    """An untimed warm-up, then the measured phase; tickets minted before each, untimed."""
    warmup_cap = min(opts.seconds, WARMUP_CAP_S)
    async with new_session(opts) as session:
        if scenario == "slot-search":
            url = search_url(root, cal.window)
            if opts.warmup:
                tickets = search_tickets(opts.warmup, audience)
                op = search_op(session, url, tickets, SLOTS_WANTED)
                await run_phase(scenario, target, op, opts.warmup, warmup_cap, opts.concurrency)
            tickets = search_tickets(opts.requests, audience)
            op = search_op(session, url, tickets, SLOTS_WANTED)
            return await run_phase(
                scenario, target, op, opts.requests, opts.seconds, opts.concurrency
            )
        pool: asyncio.Queue[str] = asyncio.Queue()
        for slot_id in cal.pool:
            pool.put_nowait(slot_id)
        if opts.warmup:
            op = book_cancel_op(
                session, root, book_tickets(opts.warmup, audience), pool, cal.bodies
            )
            await run_phase(scenario, target, op, opts.warmup, warmup_cap, opts.concurrency)
        op = book_cancel_op(session, root, book_tickets(opts.requests, audience), pool, cal.bodies)
        return await run_phase(scenario, target, op, opts.requests, opts.seconds, opts.concurrency)


def machine_info() -> dict[str, Any]:
    affinity = getattr(os, "sched_getaffinity", None)
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                model = line.partition(":")[2].strip()
                break
    except OSError:
        pass
    return {
        "cpu_count": os.cpu_count(),
        "cpus_usable": len(affinity(0)) if affinity is not None else os.cpu_count(),
        "cpu_model": model,
        "platform": platform.platform(),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "aiohttp": aiohttp.__version__,
    }


def ratios(results: list[PhaseResult]) -> dict[str, dict[str, float]]:
    by_key = {(r.scenario, r.target): r for r in results}
    out: dict[str, dict[str, float]] = {}
    for scenario in SCENARIOS:
        gw, bare = by_key.get((scenario, "gateway")), by_key.get((scenario, "bare"))
        if gw is None or bare is None:
            continue
        out[scenario] = {
            "throughput_gateway_over_bare": gw.rate / bare.rate if bare.rate else float("nan"),
            "p50_gateway_over_bare": gw.pct_ms(50) / bare.pct_ms(50)
            if bare.pct_ms(50)
            else float("nan"),
        }
    return out


def report(
    opts: Options,
    command: str,
    machine: dict[str, Any],
    children: dict[str, Child],
    cal: Calibration,
    results: list[PhaseResult],
) -> dict[str, Any]:
    """Print the plain-text report; return the same facts for --json."""
    print("uec-gateway benchmark: gateway vs bare aiohttp baseline")
    print(f"command:     {command}")
    print(
        f"machine:     {machine['cpu_count']} CPUs ({machine['cpus_usable']} usable), "
        f"{machine['cpu_model']}; {machine['platform']}"
    )
    print(f"python:      {machine['python']}, aiohttp {machine['aiohttp']}")
    print(
        f"settings:    requests={opts.requests} seconds={opts.seconds:g} "
        f"concurrency={opts.concurrency} warmup={opts.warmup} pool={len(cal.pool)} "
        f"accept-encoding={'gzip' if opts.gzip else 'identity'}"
    )
    for name, child in children.items():
        print(f"{name + ':':<12} {child.command}  (port {child.port})")
    included = ", ".join(f"{n} {k}" for k, n in cal.search_entries.items())
    print(
        f"diary:       {cal.free_slots} free slots for service {SERVICE_ID} over "
        f"horizon_days={HORIZON_DAYS}; book+cancel cycles {len(cal.pool)} others"
    )
    print(
        f"search:      {cal.window.lstrip('&')} -> {included}; "
        f"{len(cal.search['body'].encode())} bytes"
    )
    print()
    header = (
        f"{'scenario':<12} {'target':<8} {'requests':>9} {'failures':>9} "
        f"{'req/s':>9} {'p50 ms':>9} {'p99 ms':>9} {'seconds':>8}"
    )
    print(header)
    print("-" * len(header))
    for r in results:
        print(
            f"{r.scenario:<12} {r.target:<8} {r.requests:>9} {r.failures:>9} "
            f"{r.rate:>9.1f} {r.pct_ms(50):>9.2f} {r.pct_ms(99):>9.2f} {r.elapsed_s:>8.2f}"
        )
    print()
    ratio = ratios(results)
    for scenario, values in ratio.items():
        print(
            f"ratio {scenario}: throughput gateway/bare = "
            f"{values['throughput_gateway_over_bare']:.3f}, "
            f"p50 latency gateway/bare = {values['p50_gateway_over_bare']:.2f}"
        )
    failures = sum(r.failures for r in results)
    for r in results:
        for error, n in r.errors.most_common():
            print(f"  {r.scenario} {r.target}: {n} x {error}")
    print(f"failures: {failures}")
    print(
        "notes: book+cancel = POST /Appointment + PUT /Appointment/{id} (If-Match), latency "
        "summed; JWTs/bodies prepared untimed; the load generator shares this machine's CPUs."
    )
    return {
        "command": command,
        "machine": machine,
        "settings": {
            "requests": opts.requests,
            "seconds": opts.seconds,
            "concurrency": opts.concurrency,
            "warmup": opts.warmup,
            "pool": len(cal.pool),
            "accept_encoding": "gzip" if opts.gzip else "identity",
        },
        "servers": {n: {"command": c.command, "port": c.port} for n, c in children.items()},
        "diary_free_slots": cal.free_slots,
        "search_window": cal.window.lstrip("&"),
        "search_entries": dict(cal.search_entries),
        "results": [r.as_dict() for r in results],
        "ratios": ratio,
        "failures": failures,
    }


async def run(opts: Options, children: Children, folder: Path, command: str) -> int:
    gateway = await children.launch(
        "gateway",
        lambda port: python_module(
            "gateway", "serve", "--config", str(gateway_config(folder, port))
        ),
        folder / "gateway.log",
    )
    audience = f"{gateway.url}{BASE_PATH}"
    cal = await calibrate(opts, gateway, audience)
    fixtures_path = folder / "bare-fixtures.json"
    fixtures: Fixtures = {
        "base_path": BASE_PATH,
        "search": cal.search,
        "book": cal.captured.book,
        "cancel": cal.captured.cancel,
    }
    fixtures_path.write_text(json.dumps(fixtures), encoding="utf-8")
    bare = await children.launch(
        "bare",
        lambda port: python_module(
            "benchmarks.bare", "--port", str(port), "--fixtures", str(fixtures_path)
        ),
        folder / "bare.log",
    )
    roots = {"gateway": gateway.url, "bare": bare.url}
    results: list[PhaseResult] = []
    for scenario in SCENARIOS:
        for target in TARGETS:
            result = await measure(opts, scenario, target, roots[target], audience, cal)
            results.append(result)
            gateway.check_alive()
            bare.check_alive()
    summary = report(
        opts, command, machine_info(), {"gateway": gateway, "bare": bare}, cal, results
    )
    if opts.hl7:
        from benchmarks.hl7_leg import report_hl7, run_hl7_leg  # imports this module

        summary["hl7"] = report_hl7(await run_hl7_leg(opts, folder))
        summary["failures"] += summary["hl7"]["failures"]
    if opts.consumer:
        from benchmarks.consumer_leg import report_consumer, run_consumer_leg

        summary["consumer"] = report_consumer(await run_consumer_leg(opts, folder))
        summary["failures"] += summary["consumer"]["failures"]
    if opts.json_path is not None:
        opts.json_path.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
        print(f"json:        {opts.json_path}")
    return 0 if summary["failures"] == 0 else 1


def main(argv: Sequence[str] | None = None) -> int:
    opts = parse_args(argv)
    command = shlex.join(sys.orig_argv) if argv is None else shlex.join(["benchmarks.bench", *argv])
    children = Children()
    # A SIGTERM to the benchmark still runs the finally below and stops the servers.
    signal.signal(signal.SIGTERM, lambda _sig, _frame: sys.exit(143))
    with tempfile.TemporaryDirectory(prefix="uec-bench-") as tmp:
        try:
            code = asyncio.run(run(opts, children, Path(tmp), command))
        except ChildError as exc:
            print(f"benchmark aborted: {exc}", file=sys.stderr)
            code = 2
        except RuntimeError as exc:
            print(f"benchmark aborted: {exc}", file=sys.stderr)
            code = 2
        finally:
            stopped = children.stop_all()
            if stopped:
                codes = ", ".join(f"{name} exit {rc}" for name, rc in stopped.items())
                print(f"servers stopped: {codes}")
    return code


if __name__ == "__main__":
    sys.exit(main())
