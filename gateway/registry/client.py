"""The registry's HTTP client: POST/GET/PUT/DELETE /DocumentReference and the pointer search.

One attempt per call (the worker retries, from the journal); every failure is
one of two typed errors, decided by a table: ``RegistryUnavailable`` (try
again later: no connection, a time-out, 401/403/408/409/429, any 5xx) or
``RegistryRefused`` (400/422: the pointer as sent is wrong, a resend would be
refused again). Headers are a BaRS sender's (DocumentReference-Interface:
"the existing Access Control Headers and Transaction Integrity Headers"),
without NHSD-Target-Identifier, which the API spec does not list for the registry.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import aiohttp

from adapters._http import Outgoing, Policy, Reply, open_session, send_once
from gateway.registry.pointer import APPOINTMENT_TYPE, BARS_IDENTIFIER, ODS_SYSTEM, SNOMED

FHIR_JSON = "application/fhir+json"
#: The API spec's Accept names the BaRS version the registry interface was published in.
ACCEPT = "application/fhir+json; version=1.4.0"
#: Statuses that are the registry's own trouble or ours to wait out: try again later.
_REFUSED = frozenset({400, 422})


class RegistryUnavailable(Exception):
    """The registry could not take the call now; ``reason`` is an id-free code for the log."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class RegistryRefused(Exception):
    """The registry refused the pointer as sent (a resend would be refused again)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Ids:
    """The transaction ids of one call: the same on every retry of the same delivery."""

    request_id: str
    correlation_id: str
    #: The use-context header (End-to-end-workflow/Logging): use case|status|event|reason.
    use_context: str = ""


class RegistryClient:
    """One client session to ``{url}/DocumentReference``, opened and closed by the worker."""

    def __init__(
        self,
        url: str,
        custodian_ods: str,
        *,
        connect_timeout_s: float,
        request_timeout_s: float,
        token: str | None = None,
    ) -> None:
        self._root = f"{url}/DocumentReference"
        self._policy = Policy(
            attempt_timeout_s=request_timeout_s, connect_timeout_s=connect_timeout_s, attempts=1
        )
        self._token = token
        organisation = {
            "resourceType": "Organization",
            "identifier": [{"system": ODS_SYSTEM, "value": custodian_ods}],
        }
        self._organisation = base64.b64encode(json.dumps(organisation).encode()).decode()
        self._custodian = custodian_ods
        self._session: aiohttp.ClientSession | None = None

    async def close(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    async def create(self, resource: dict[str, Any], ids: Ids) -> str:
        """POST a pointer; the registry's id (from Location, or a duplicate's Content-Location)."""
        reply = await self._send("POST", self._root, ids, resource)
        if reply.status == 409 and _id_from(reply, "Content-Location"):
            # The same X-Request-Id made it before (its answer was lost): that one.
            return _id_from(reply, "Content-Location")
        self._check(reply, "create")
        found = _id_from(reply, "Location") or str(_json(reply).get("id") or "")
        if not found:
            raise RegistryUnavailable("registry_created_without_location")
        return found

    async def read(self, document_id: str, ids: Ids) -> dict[str, Any] | None:
        reply = await self._send("GET", f"{self._root}/{document_id}", ids)
        if reply.status in (404, 410):
            return None
        self._check(reply, "read")
        return _json(reply)

    async def update(self, document_id: str, resource: dict[str, Any], ids: Ids) -> bool:
        """PUT the pointer; False if the registry no longer has it."""
        reply = await self._send("PUT", f"{self._root}/{document_id}", ids, resource)
        if reply.status in (404, 410):
            return False
        if reply.status == 409 and _id_from(reply, "Content-Location"):
            return True  # this very PUT was applied before (its answer was lost)
        self._check(reply, "update")
        return True

    async def delete(self, document_id: str, ids: Ids) -> None:
        """DELETE the pointer; one already gone is as good as deleted."""
        reply = await self._send("DELETE", f"{self._root}/{document_id}", ids)
        if reply.status not in (404, 410):
            self._check(reply, "delete")

    async def find(self, nhs_number: str, appointment_id: str, ids: Ids) -> str | None:
        """The id of our pointer to ``appointment_id`` the registry already holds, if any."""
        query = urlencode(
            {
                "subject:identifier": f"https://fhir.nhs.uk/Id/nhs-number|{nhs_number}",
                "custodian:identifier": f"{ODS_SYSTEM}|{self._custodian}",
                "type": f"{SNOMED}|{APPOINTMENT_TYPE}",
            }
        )
        reply = await self._send("GET", f"{self._root}?{query}", ids)
        self._check(reply, "search")
        for entry in _json(reply).get("entry") or ():
            resource = entry.get("resource") if isinstance(entry, dict) else None
            if isinstance(resource, dict) and _names(resource, appointment_id):
                return str(resource.get("id") or "") or None
        return None

    def _headers(self, ids: Ids, method: str) -> dict[str, str]:
        headers = {
            "X-Request-Id": ids.request_id,
            "X-Correlation-Id": ids.correlation_id,
            "Accept": ACCEPT,
            "NHSD-End-User-Organisation": self._organisation,
        }
        if method in ("POST", "PUT"):
            headers["Content-Type"] = FHIR_JSON
        if method != "GET" and ids.use_context:
            headers["use-context"] = ids.use_context
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        return headers

    async def _send(
        self, method: str, url: str, ids: Ids, resource: dict[str, Any] | None = None
    ) -> Reply:
        if self._session is None:
            self._session = open_session(self._policy)
        body = json.dumps(resource).encode() if resource is not None else None
        out = Outgoing(method, url, self._headers(ids, method), body)
        try:
            return await send_once(
                self._session, out, self._policy.attempt_timeout_s, self._policy.max_body_bytes
            )
        except TimeoutError:
            raise RegistryUnavailable("registry_timed_out") from None
        except Exception as exc:  # every transport failure: try again later
            raise RegistryUnavailable(f"registry_unreachable_{type(exc).__name__}") from None

    @staticmethod
    def _check(reply: Reply, operation: str) -> None:
        if 200 <= reply.status < 300:
            return
        reason = f"registry_{operation}_{reply.status}"
        if reply.status in _REFUSED:
            raise RegistryRefused(reason)
        raise RegistryUnavailable(reason)


def _id_from(reply: Reply, header: str) -> str:
    location = reply.headers.get(header, "")
    _, found, rest = location.partition("/DocumentReference/")
    return rest.split("/")[0].split("?")[0] if found else ""


def _json(reply: Reply) -> dict[str, Any]:
    try:
        data = json.loads(reply.body)
    except ValueError:
        raise RegistryUnavailable("registry_answer_not_json") from None
    if not isinstance(data, dict):
        raise RegistryUnavailable("registry_answer_not_an_object")
    return data


def _names(resource: dict[str, Any], appointment_id: str) -> bool:
    return any(
        isinstance(i, dict)
        and i.get("system") == BARS_IDENTIFIER
        and i.get("value") == appointment_id
        for i in resource.get("identifier") or ()
    )
