"""The ``trace:`` section of the configuration."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class TraceSettings(BaseModel):
    """How the journey trace is recorded (docs/ops/trace.md)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: Record hops at all (the admin endpoint and CLI still read what is stored).
    enabled: bool = True
    #: Exchanges waiting to be written at most; beyond it new ones are dropped (and
    #: logged as ``trace_dropped``), so a slow store never holds a booking up.
    queue_size: int = Field(default=10_000, ge=1)
    #: How long the writer gathers exchanges before one transaction writes them.
    interval_s: float = Field(default=0.05, gt=0, le=10)
    #: Exchanges written per transaction at most.
    batch: int = Field(default=200, ge=1)
    #: Also record reads (slot searches, reads, searches, metadata). Off by default: a
    #: read changes no journey, and a busy consumer's searches would fill the trace and
    #: its writer (one journey per search) while bookings wait behind them.
    reads: bool = False


#: Interactions that change nothing: recorded only with ``trace.reads``.
READS = frozenset(
    {
        "slot_search",
        "read",
        "read_referral",
        "search_appointments",
        "search_referrals",
        "metadata",
        "message_definitions",
        "unknown",
    }
)


def recorded(settings: TraceSettings, interaction: str) -> bool:
    """Whether an exchange of ``interaction`` is recorded."""
    return settings.reads or interaction not in READS
