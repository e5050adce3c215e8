"""The benchmark's command line (``python -m benchmarks.bench --help``)."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from benchmarks._constants import MAX_SECONDS


@dataclass(frozen=True)
class Options:
    requests: int
    seconds: float
    #: The main run's concurrencies, in order; the other legs use the first.
    concurrencies: tuple[int, ...]
    warmup: int
    pool: int
    gzip: bool
    json_path: Path | None
    hl7: bool = True
    consumer: bool = True
    bars: bool = True
    bars_consumer: bool = True
    pg: bool = True
    pg_dsn: str = "postgresql://postgres@127.0.0.1:5432/test"
    #: Interleaved rounds of every main-run phase; each row reports the median round.
    rounds: int = 3
    #: Worker processes of the second gateway (``serve --workers N``); 1: no second gateway.
    workers: int = 2

    @property
    def concurrency(self) -> int:
        """The first of ``--concurrency``: the one the other legs run at."""
        return self.concurrencies[0]

    @property
    def most_concurrent(self) -> int:
        return max(self.concurrencies)


def _positive_int(raw: str) -> int:
    value = int(raw)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{raw} is not a positive integer")
    return value


def _concurrencies(raw: str) -> tuple[int, ...]:
    """``1,8`` -> (1, 8): positive integers, each once, in the order given."""
    try:
        values = [_positive_int(part.strip()) for part in raw.split(",")]
    except (ValueError, argparse.ArgumentTypeError):
        raise argparse.ArgumentTypeError(f"{raw}: give positive integers like 1,8") from None
    return tuple(dict.fromkeys(values))


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
        description="Benchmark the gateway against a bare aiohttp baseline and a minimal "
        "same-work app.",
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
        "--concurrency",
        type=_concurrencies,
        default=(1, 8),
        help="requests in flight, a comma-separated list, each measured (default 1,8; "
        "the other legs use the first)",
    )
    parser.add_argument(
        "--rounds",
        type=_positive_int,
        default=3,
        help="interleaved rounds of every main-run phase; rows show the median (default 3)",
    )
    parser.add_argument(
        "--workers",
        type=_positive_int,
        default=2,
        help="worker processes of a second gateway measured beside the first "
        "(serve --workers N; default 2; 1 for no second gateway)",
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
    parser.add_argument(
        "--no-bars",
        dest="bars",
        action="store_false",
        help="skip the BaRS leg (the BaRS door's slot search and $process-message booking)",
    )
    parser.add_argument(
        "--no-bars-consumer",
        dest="bars_consumer",
        action="store_false",
        help="skip the consumer leg's BaRS path (legacy MLLP -> gateway -> bars adapter -> "
        "mock proxy -> BaRS receiver)",
    )
    parser.add_argument(
        "--no-pg",
        dest="pg",
        action="store_false",
        help="skip the PostgreSQL leg (one and two replicas on PostgreSQL vs SQLite)",
    )
    parser.add_argument(
        "--pg-dsn",
        default="postgresql://postgres@127.0.0.1:5432/test",
        help="the PostgreSQL database the PostgreSQL leg makes its throwaway schemas in",
    )
    args = parser.parse_args(argv)
    if args.warmup < 0:
        parser.error("--warmup must be 0 or more")
    if args.pool < max(args.concurrency):
        parser.error(
            "--pool must be at least the highest --concurrency (one operation per slot at a time)"
        )
    return Options(
        requests=args.requests,
        seconds=args.seconds,
        concurrencies=args.concurrency,
        warmup=args.warmup,
        pool=args.pool,
        gzip=args.gzip,
        json_path=args.json_path,
        hl7=args.hl7,
        consumer=args.consumer,
        bars=args.bars,
        bars_consumer=args.bars_consumer,
        pg=args.pg,
        pg_dsn=args.pg_dsn,
        rounds=args.rounds,
        workers=args.workers,
    )
