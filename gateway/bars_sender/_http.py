"""One BaRS request and its answer, with the headers of ``adapters.bars_toolkit.headers``."""

from __future__ import annotations

import json
import ssl
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from adapters.bars_toolkit.headers import JSON_TYPE, XML_TYPE, Target, request_headers
from adapters.domain import (
    CallContext,
    Identifier,
    RequestingDevice,
    RequestingOrganisation,
    RequestingPractitioner,
)

Json = dict[str, Any]
SDS_ROLE_PROFILE = "https://fhir.nhs.uk/Id/sds-role-profile-id"
DEVICE_SYSTEM = "https://uec-gateway.example/Id/software"
#: The answer's headers worth showing: the mirrored ids and where the resource is.
KEPT = ("X-Request-Id", "X-Correlation-Id", "Location", "ETag", "Content-Location")


@dataclass(frozen=True, slots=True)
class Tls:
    """Client certificate and CA for mTLS (the national proxy's way to a receiver)."""

    cert: Path | None = None
    key: Path | None = None
    ca: Path | None = None

    def context(self) -> ssl.SSLContext | None:
        if self.cert is None and self.ca is None:
            return None
        context = ssl.create_default_context(cafile=str(self.ca) if self.ca else None)
        if self.cert is not None:
            context.load_cert_chain(str(self.cert), str(self.key) if self.key else None)
        return context


@dataclass(frozen=True, slots=True)
class Answer:
    """What the receiver said: status, the ids it mirrored, and the body."""

    method: str
    path: str
    status: int
    headers: dict[str, str]  # those of ``KEPT`` the receiver sent
    body: Any  # parsed JSON, or the text of an XML answer

    @property
    def ok(self) -> bool:
        """A 2xx answer, or a write shown and not sent (``--dry-run``: status 0)."""
        return 200 <= self.status < 300 or self.status == 0

    def report(self) -> Json:
        return {
            "request": f"{self.method} {self.path}",
            "status": self.status,
            "headers": self.headers,
            "body": self.body,
        }


@dataclass
class Sender:
    """The sender's identity, its receiver and the session it speaks over."""

    session: aiohttp.ClientSession
    base: str
    target: Target
    ods: str = "A1001"
    xml: bool = False
    practitioner: str | None = "100334993514"
    #: Print a write (POST/PUT) instead of sending it; reads are still asked.
    dry_run: bool = False
    sent: list[Answer] = field(default_factory=list)

    def context(self) -> CallContext:
        return sender_context(self.ods, self.practitioner)

    async def call(
        self,
        method: str,
        path: str,
        *,
        params: list[tuple[str, str]] | None = None,
        body: Json | bytes | None = None,
        use_context: str | None = None,
        xml: bool | None = None,
    ) -> Answer:
        """One request; ``xml`` overrides the Accept format (a journey's own reads are JSON)."""
        accept = XML_TYPE if (self.xml if xml is None else xml) else JSON_TYPE
        data, kind = None, None
        if isinstance(body, bytes):
            data, kind = body, XML_TYPE if body.lstrip().startswith(b"<") else JSON_TYPE
        elif body is not None:
            data, kind = json.dumps(body).encode(), JSON_TYPE
        headers = request_headers(
            self.target, self.context(), accept=accept, content_type=kind, use_context=use_context
        )
        url = self.base.rstrip("/") + path
        if self.dry_run and method != "GET":
            shown = body if not isinstance(body, bytes) else body.decode("utf-8", "replace")
            return Answer(method, path, 0, headers, shown)
        async with self.session.request(
            method, url, params=params, data=data, headers=headers
        ) as resp:
            raw = await resp.read()
            kept = {k: resp.headers[k] for k in KEPT if k in resp.headers}
            answer = Answer(method, path, resp.status, kept, _parsed(raw))
        self.sent.append(answer)
        return answer


def sender_context(ods: str, practitioner: str | None) -> CallContext:
    """The sender's identity for one request, with fresh transaction ids."""
    role = None
    if practitioner:
        ident = Identifier(system=SDS_ROLE_PROFILE, value=practitioner)
        role = RequestingPractitioner(id=practitioner, identifiers=(ident,))
    return CallContext(
        request_id=str(uuid.uuid4()),
        correlation_id=str(uuid.uuid4()),
        organisation=RequestingOrganisation(ods_code=ods, name="uec-gateway sender"),
        device=RequestingDevice(
            identifier=Identifier(system=DEVICE_SYSTEM, value="bars-sender"),
            model="uec-gateway bars-sender",
            version="1.0.0",
        ),
        practitioner=role,
    )


def _parsed(raw: bytes) -> Any:
    if not raw:
        return None
    text = raw.decode("utf-8", "replace")
    if text.lstrip().startswith(("{", "[")):
        try:
            return json.loads(text)
        except ValueError:
            return text
    return text
