"""Rules for every response, checked over all the run's replies at the end."""

from __future__ import annotations

from collections.abc import Callable

from gateway.selftest._fhir import SPINE_CODES, fhir_xml, outcome_problem, xml_root
from gateway.selftest._http import Reply
from gateway.selftest._run import Check, Run, check, expect

CHECKS: list[Check] = []


def _first(replies: list[Reply], problem: Callable[[Reply], str | None]) -> str | None:
    """``N of M replies: <first offender>`` or None when every reply is right."""
    found = [(r, p) for r in replies if (p := problem(r)) is not None]
    if not found:
        return None
    reply, what = found[0]
    return f"{len(found)} of {len(replies)} replies, e.g. {reply} -> {reply.status}: {what}"


def _cache_control(reply: Reply) -> str | None:
    value = reply.headers.get("Cache-Control", "")
    return None if "no-store" in value.lower() else f"Cache-Control {value!r}"


def _charset(reply: Reply) -> str | None:
    if not reply.body or not (reply.is_json or reply.is_xml):
        return None
    kind = reply.content_type.lower().replace(" ", "")
    return None if "charset=utf-8" in kind else f"Content-Type {reply.content_type!r}"


def _correlation(reply: Reply) -> str | None:
    echoed, own = reply.headers.get("X-Correlation-ID"), reply.headers.get("X-Request-ID")
    if reply.request_id and echoed != reply.request_id:
        return f"X-Correlation-ID {echoed!r}, sent X-Request-ID {reply.request_id!r}"
    return None if own else "no X-Request-ID"


def _error_body(reply: Reply) -> str | None:
    if reply.status < 400:
        return None
    if reply.is_xml:
        found = xml_root(reply.body) == fhir_xml("OperationOutcome")
        return None if found else "the XML body is not an OperationOutcome"
    problem = outcome_problem(reply)
    if problem:
        return problem
    # er_errorhandling.md asks severity and code of every issue, and the Spine code of the
    # error: an information or warning issue that follows it (a supplier's reason) need not
    # carry one, but every error or fatal issue must, and there must be one.
    errors = [
        issue
        for issue in reply.resource().get("issue") or []
        if issue.get("severity") in {"error", "fatal"}
    ]
    if not errors:
        return "no issue of severity error or fatal"
    for issue in errors:
        systems = {c.get("system") for c in ((issue.get("details") or {}).get("coding") or [])}
        if SPINE_CODES not in systems:
            return f"issue {issue.get('code')!r} has no Spine-ErrorOrWarningCode"
    return None


@check(CHECKS, "every-reply-cache-control-no-store", "implementation_api.md")
async def cache_control(run: Run) -> None:
    """Providers SHALL send Cache-Control: no-store so no intermediary caches a reply."""
    problem = _first(run.consumer.replies, _cache_control)
    expect(problem is None, f"expected Cache-Control: no-store; {problem}")


@check(CHECKS, "every-reply-charset-utf-8", "implementation_api.md")
async def charset(run: Run) -> None:
    """Responses SHALL explicitly set charset=utf-8 in Content-Type."""
    problem = _first(run.consumer.replies, _charset)
    expect(problem is None, f"expected charset=utf-8; {problem}")


@check(CHECKS, "every-reply-x-request-id", "fs_xti.md")
async def correlation(run: Run) -> None:
    """Each response has its own X-Request-ID and echoes the request's as X-Correlation-ID."""
    problem = _first(run.consumer.replies, _correlation)
    expect(problem is None, f"expected both ids; {problem}")


@check(CHECKS, "every-error-operation-outcome", "er_errorhandling.md, er_overview.md")
async def error_bodies(run: Run) -> None:
    """Every 4xx/5xx is an OperationOutcome: id, severity, code, a Spine error code."""
    errors = [r for r in run.consumer.replies if r.status >= 400]
    expect(errors, "the run saw no error response to check")
    problem = _first(errors, _error_body)
    expect(problem is None, f"expected OperationOutcomes with Spine codes; {problem}")
