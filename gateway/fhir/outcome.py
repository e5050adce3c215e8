"""OperationOutcome bodies for every error (er_errorhandling.md, implementation_api.md)."""

from __future__ import annotations

import uuid
from typing import Any

from gateway.errors import SPINE_CODES, ApiError

OUTCOME_PROFILE = "https://fhir.nhs.uk/STU3/StructureDefinition/Spine-OperationOutcome-1"


def _text(diagnostics: str) -> str:
    # A header byte that is not UTF-8 reaches us as a lone surrogate (aiohttp decodes with
    # surrogateescape); echoed as is, it would make the error itself unwritable as JSON.
    return diagnostics.encode("utf-8", "backslashreplace").decode("utf-8")


def operation_outcome(error: ApiError, *, outcome_id: str | None = None) -> dict[str, Any]:
    """The OperationOutcome for ``error``: id, severity, code, Spine code, diagnostics."""
    spec = error.kind.spec
    issue: dict[str, Any] = {
        "severity": spec.severity,
        "code": spec.issue_code,
        "details": {
            "coding": [{"system": SPINE_CODES, "code": spec.spine_code, "display": spec.display}]
        },
        "diagnostics": _text(spec.fixed_diagnostics or error.diagnostics),
    }
    if error.expression:
        issue["expression"] = [error.expression]
    issues = [issue]
    if spec.fixed_diagnostics and error.diagnostics != spec.fixed_diagnostics:
        # er_overview.md: say why (e.g. why the slot is not free) beside the fixed text.
        issues.append(
            {
                "severity": "information",
                "code": "informational",
                "diagnostics": _text(error.diagnostics),
            }
        )
    return {
        "resourceType": "OperationOutcome",
        # er_overview.md: a provider id for the outcome, traceable in our logs.
        "id": outcome_id or str(uuid.uuid4()),
        "meta": {"profile": [OUTCOME_PROFILE]},
        "issue": issues,
    }
