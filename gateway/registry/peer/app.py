"""The reference registry's HTTP surface: /DocumentReference as DocumentReference-Interface lists.

POST (201, ``Location``), GET by id, PUT (subject, custodian and type immutable),
DELETE, and the search by ``subject:identifier`` (required) narrowed by
``custodian:identifier`` and ``type``. Answers are the API spec's examples'
shapes: an OperationOutcome (NRL-ResponseCode) for writes, a searchset Bundle for
searches, an OperationOutcome (Spine-ErrorOrWarningCode) for every error. A write
resent with an X-Request-Id already used is ``409`` with ``Content-Location`` naming
what the first made (as BaRS receivers answer a duplicate). ``/_peer/*`` are test
controls (unauthenticated: bind the peer to 127.0.0.1).
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from fhir.resources.R4B.documentreference import DocumentReference
from multidict import CIMultiDict
from pydantic import ValidationError

from adapters.nhs import is_valid_nhs_number
from gateway.registry.peer.faults import Fault, misbehave
from gateway.registry.peer.state import STATE, PeerState
from gateway.registry.pointer import (
    APPOINTMENT_TYPE,
    BARS_IDENTIFIER,
    NHS_NUMBER_SYSTEM,
    ODS_SYSTEM,
    REFERRAL_TYPE,
)

SPINE = "https://fhir.nhs.uk/CodeSystem/Spine-ErrorOrWarningCode"
NRL = "https://fhir.nhs.uk/ValueSet/NRL-ResponseCode"
FHIR_JSON = "application/fhir+json"
IMMUTABLE = ("subject", "custodian", "type")


def outcome(
    status: int, code: str, text: str, *, headers: dict[str, str] | None = None
) -> web.Response:
    severity, issue = ("information", "informational") if status < 400 else ("error", "invalid")
    system = NRL if status < 400 else SPINE
    if status == 404:
        issue = "not-found"
    body = {
        "resourceType": "OperationOutcome",
        "issue": [
            {
                "severity": severity,
                "code": "duplicate" if status == 409 else issue,
                "details": {"coding": [{"system": system, "code": code}]},
                "diagnostics": text,
            }
        ],
    }
    return _json(body, status, headers)


def _json(
    body: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    return web.Response(
        body=json.dumps(body).encode(), status=status, content_type=FHIR_JSON, headers=headers
    )


def _problem(resource: Any) -> str | None:
    """Why a body is not a BaRS booking pointer, or None."""
    if not isinstance(resource, dict) or resource.get("resourceType") != "DocumentReference":
        return "the body is not a DocumentReference"
    try:
        DocumentReference.model_validate(resource)
    except ValidationError as exc:
        where = sorted({".".join(str(p) for p in e["loc"]) for e in exc.errors()})[:3]
        return f"not a valid FHIR R4 DocumentReference at {', '.join(where)}"
    subject = (resource.get("subject") or {}).get("identifier") or {}
    if subject.get("system") != NHS_NUMBER_SYSTEM or not is_valid_nhs_number(
        str(subject.get("value"))
    ):
        return "subject must be a Patient identified by a valid NHS number"
    custodian = (resource.get("custodian") or {}).get("identifier") or {}
    if custodian.get("system") != ODS_SYSTEM or not custodian.get("value"):
        return "custodian must be an Organization identified by an ODS code"
    codes = {c.get("code") for c in (resource.get("type") or {}).get("coding") or ()}
    if not codes & {APPOINTMENT_TYPE, REFERRAL_TYPE}:
        return "type must be a BaRS document type (749001000000101 or 736253002)"
    if not any((c.get("attachment") or {}).get("url") for c in resource.get("content") or ()):
        return "content[].attachment.url must give the direct URL"
    if not any(i.get("system") == BARS_IDENTIFIER for i in resource.get("identifier") or ()):
        return "identifier must hold the BaRS-Identifier of the booking or referral"
    return None


async def _body(request: web.Request) -> tuple[dict[str, Any] | None, str | None]:
    try:
        resource = json.loads(await request.read())
    except ValueError:
        return None, "the body is not JSON"
    problem = _problem(resource)
    return (resource if problem is None else None), problem


def _stamp(resource: dict[str, Any], document_id: str) -> dict[str, Any]:
    now = datetime.now(UTC).isoformat(timespec="milliseconds")
    return {**resource, "id": document_id, "meta": {"lastUpdated": now}}


def _location(request: web.Request, document_id: str) -> str:
    return f"{request.url.origin()}{request.app[STATE].base}/DocumentReference/{document_id}"


async def create(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]
    key = request.headers["X-Request-Id"]
    if key in state.requests:
        first = state.requests[key]
        where = {"Content-Location": _location(request, first)}
        return outcome(
            409, "DUPLICATE_REJECTED", "this X-Request-Id was used before", headers=where
        )
    resource, problem = await _body(request)
    if resource is None:
        return outcome(400, "INVALID_RESOURCE", problem or "invalid")
    document_id = str(uuid.uuid4())
    state.pointers[document_id] = _stamp(resource, document_id)
    state.requests[key] = document_id
    where = {"Location": _location(request, document_id)}
    return outcome(201, "RESOURCE_CREATED", "The document has been created", headers=where)


async def read(request: web.Request) -> web.StreamResponse:
    found = request.app[STATE].pointers.get(request.match_info["id"])
    if found is None:
        return outcome(404, "RESOURCE_NOT_FOUND", "Item could not be found")
    return _json(found)


async def update(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]
    document_id = request.match_info["id"]
    key = request.headers["X-Request-Id"]
    if state.requests.get(key) == document_id:
        where = {"Content-Location": _location(request, document_id)}
        return outcome(
            409, "DUPLICATE_REJECTED", "this X-Request-Id was used before", headers=where
        )
    current = state.pointers.get(document_id)
    if current is None:
        return outcome(404, "RESOURCE_NOT_FOUND", "Item could not be found")
    resource, problem = await _body(request)
    if resource is None:
        return outcome(400, "INVALID_RESOURCE", problem or "invalid")
    if resource.get("id") != document_id:
        return outcome(400, "INVALID_RESOURCE", "the body's id must be the id in the path")
    changed = [name for name in IMMUTABLE if resource.get(name) != current.get(name)]
    if changed:
        return outcome(400, "INVALID_RESOURCE", f"{', '.join(changed)} cannot be changed")
    state.pointers[document_id] = _stamp(resource, document_id)
    state.requests[key] = document_id
    return outcome(200, "RESOURCE_UPDATED", "The document has been updated")


async def delete(request: web.Request) -> web.StreamResponse:
    if request.app[STATE].pointers.pop(request.match_info["id"], None) is None:
        return outcome(404, "RESOURCE_NOT_FOUND", "Item could not be found")
    return outcome(200, "RESOURCE_DELETED", "The requested DocumentReference has been deleted")


def _token(text: str) -> tuple[str, str] | None:
    system, bar, value = text.partition("|")
    return (system, value) if bar and system and value else None


async def search(request: web.Request) -> web.StreamResponse:
    subject = _token(request.query.get("subject:identifier", ""))
    if subject is None or subject[0] != NHS_NUMBER_SYSTEM:
        return outcome(
            400,
            "INVALID_PARAMETER",
            "subject:identifier=https://fhir.nhs.uk/Id/nhs-number|<n> is required",
        )
    wanted: list[tuple[str, tuple[str, str]]] = [("subject", subject)]
    for name, element in (("custodian:identifier", "custodian"), ("type", "type")):
        if name in request.query:
            token = _token(request.query[name])
            if token is None:
                return outcome(400, "INVALID_PARAMETER", f"{name} must be system|value")
            wanted.append((element, token))
    found = [p for p in request.app[STATE].pointers.values() if _matches(p, wanted)]
    bundle = {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": len(found),
        "link": [{"relation": "self", "url": str(request.url)}],
        "entry": [{"fullUrl": _location(request, p["id"]), "resource": p} for p in found],
    }
    return _json(bundle)


def _matches(pointer: dict[str, Any], wanted: list[tuple[str, tuple[str, str]]]) -> bool:
    for element, (system, value) in wanted:
        if element == "type":
            codings = (pointer.get("type") or {}).get("coding") or ()
            if not any(c.get("system") == system and c.get("code") == value for c in codings):
                return False
        else:
            identifier = (pointer.get(element) or {}).get("identifier") or {}
            if (identifier.get("system"), identifier.get("value")) != (system, value):
                return False
    return True


@web.middleware
async def bars_headers(request: web.Request, handler: Any) -> web.StreamResponse:
    """Transaction ids required and mirrored back; faults applied before the work."""
    if request.path.startswith("/_peer/"):
        return await handler(request)  # type: ignore[no-any-return]
    ids = {h: request.headers.get(h, "") for h in ("X-Request-Id", "X-Correlation-Id")}
    missing = [h for h, v in ids.items() if not v]
    if missing:
        return outcome(400, "MISSING_OR_INVALID_HEADER", f"{', '.join(missing)} required")
    state = request.app[STATE]
    operation = _operation(request)
    state.stats[operation] += 1
    state.seen_headers.append(CIMultiDict(request.headers))
    early = await misbehave(request, state, operation)
    if early is not None:
        return early
    response: web.StreamResponse = await handler(request)
    if state.lose_answer(request) and request.transport is not None:
        request.transport.abort()  # the work is done, the answer is lost
    for name, value in ids.items():
        response.headers[name] = value
    return response


def _operation(request: web.Request) -> str:
    if request.method == "GET":
        return "read" if "id" in request.match_info else "search"
    return {"POST": "create", "PUT": "update", "DELETE": "delete"}.get(request.method, "other")


async def set_fault(request: web.Request) -> web.Response:
    try:
        fault = Fault.model_validate_json(await request.read())
    except ValidationError as exc:
        return web.json_response({"error": str(exc.errors()[0]["msg"])}, status=400)
    request.app[STATE].set_fault(fault)
    return web.json_response({"fault": fault.model_dump(mode="json")})


async def peer_pointers(request: web.Request) -> web.Response:
    return web.json_response(list(request.app[STATE].pointers.values()))


def create_app(state: PeerState) -> web.Application:
    app = web.Application(middlewares=[bars_headers])
    app[STATE] = state
    root = f"{state.base}/DocumentReference"
    app.router.add_post(root, create)
    app.router.add_get(root, search)
    app.router.add_get(root + "/{id}", read)
    app.router.add_put(root + "/{id}", update)
    app.router.add_delete(root + "/{id}", delete)
    app.router.add_put("/_peer/fault", set_fault)
    app.router.add_get("/_peer/pointers", peer_pointers)
    return app
