"""``uec-gateway selftest``: the NHS Booking API provider checks, black-box over HTTP.

Any endpoint can be tested, ours or another supplier's: each check cites the
spec page it comes from, everything the run books it cancels again.
"""

from gateway.selftest._http import Options, TargetUnreachable
from gateway.selftest.report import Report, Result, render_json, render_text
from gateway.selftest.runner import run_selftest

__all__ = [
    "Options",
    "Report",
    "Result",
    "TargetUnreachable",
    "render_json",
    "render_text",
    "run_selftest",
]
