"""The proxy's own error answers: OperationOutcomes with ``SEND_*``/``PROXY_*`` codes.

Error-Handling/Failure-Scenarios-1-1-x/Message-Routing (which code, which issue
code), api/booking-and-referral.yaml's error table (status per code) and
api/examples/proxy-not-found.json, malformed-target-identifier.json,
invalid-base64.json (the shape). Every answer is ``application/fhir+json`` and
echoes the request's ``X-Request-Id``/``X-Correlation-Id`` when it had them.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping

import orjson
from aiohttp import web

HTTP_ERROR_CODES = "https://fhir.nhs.uk/Codesystem/http-error-codes"
UK_CORE_OUTCOME = "https://fhir.hl7.org.uk/StructureDefinition/UKCore-OperationOutcome"
FHIR_JSON = "application/fhir+json"
ID_HEADERS = ("X-Request-Id", "X-Correlation-Id")

#: The FHIR issue code for a status when a fault names only status and code.
ISSUE_FOR_STATUS = {
    400: "invalid",
    401: "security",
    403: "forbidden",
    404: "not-found",
    405: "not-supported",
    406: "not-supported",
    408: "timeout",
    409: "conflict",
    422: "processing",
    429: "throttled",
    500: "exception",
    501: "not-supported",
    502: "transient",
    503: "transient",
    504: "timeout",
}


class ProxyError(Exception):
    """One error answer of the proxy itself (not the receiver's)."""

    def __init__(
        self,
        status: int,
        code: str,
        diagnostics: str,
        *,
        issue: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(diagnostics)
        self.status = status
        self.code = code
        self.issue = issue or ISSUE_FOR_STATUS.get(status, "processing")
        self.diagnostics = diagnostics
        self.headers = dict(headers or {})


def outcome(code: str, status: int, issue: str, diagnostics: str) -> dict[str, object]:
    return {
        "resourceType": "OperationOutcome",
        "id": str(uuid.uuid4()),
        "meta": {"profile": [UK_CORE_OUTCOME]},
        "issue": [
            {
                "severity": "error",
                "code": issue,
                "details": {
                    "coding": [
                        {"system": HTTP_ERROR_CODES, "code": code, "display": f"{status} - {code}"}
                    ]
                },
                "diagnostics": diagnostics,
            }
        ],
    }


def echoed(request: web.Request) -> dict[str, str]:
    """The request's transaction ids, to mirror back."""
    return {name: request.headers[name] for name in ID_HEADERS if name in request.headers}


def answer(request: web.Request, error: ProxyError) -> web.Response:
    body = orjson.dumps(outcome(error.code, error.status, error.issue, error.diagnostics))
    return web.Response(
        status=error.status,
        body=body,
        content_type=FHIR_JSON,
        headers={**echoed(request), **error.headers},
    )


def unauthorized(diagnostics: str) -> ProxyError:
    challenge = {"WWW-Authenticate": 'Bearer error="invalid_token"'}
    return ProxyError(401, "SEND_UNAUTHORIZED", diagnostics, issue="security", headers=challenge)


def bad_request(diagnostics: str, issue: str = "required") -> ProxyError:
    return ProxyError(400, "SEND_BAD_REQUEST", diagnostics, issue=issue)


def proxy_bad_request(diagnostics: str, issue: str) -> ProxyError:
    return ProxyError(400, "PROXY_BAD_REQUEST", diagnostics, issue=issue)


def not_found(diagnostics: str) -> ProxyError:
    return ProxyError(404, "PROXY_NOT_FOUND", diagnostics, issue="not-found")


def timeout(diagnostics: str) -> ProxyError:
    # Transactional-integrity/Sender-responsibilities: "PROXY_TIMEOUT (504 indicating 408)".
    return ProxyError(504, "PROXY_TIMEOUT", diagnostics, issue="timeout")


def unavailable(diagnostics: str) -> ProxyError:
    return ProxyError(503, "PROXY_UNAVAILABLE", diagnostics, issue="transient")


def server_error(diagnostics: str) -> ProxyError:
    return ProxyError(500, "PROXY_SERVER_ERROR", diagnostics, issue="exception")
