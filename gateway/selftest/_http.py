"""The self-test's consumer: aiohttp client, JWTs and SSP headers, every reply kept.

It behaves as a national consumer does (``implementation_api.md``: a bearer
JWT as ``fs_authentication.md`` builds it, the four Spine proxy headers, an
``X-Request-ID`` per request as ``fs_xti.md`` asks) and keeps every reply, so
the closing sweeps can check rules that hold for every response (Cache-Control,
charset, X-Correlation-ID, error bodies).
"""

from __future__ import annotations

import gzip
import json
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import aiohttp
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from gateway.security.interactions import Interaction
from gateway.security.tokens import build_payload, encode_token

FHIR_JSON = "application/fhir+json"
FHIR_XML = "application/fhir+xml"
#: Sentinel: send no Authorization header at all.
NO_TOKEN = ""


class TargetUnreachable(Exception):
    """The target did not answer at all (refused, reset, timed out, bad address)."""


@dataclass(frozen=True, slots=True)
class Options:
    """What the self-test needs to talk to one endpoint as a consumer."""

    target: str
    service: str
    other_service: str | None = None
    audience: str | None = None
    ods: str = "A1001"
    algorithm: str = "none"
    key: str | None = field(default=None, repr=False)
    kid: str | None = None
    ssp_from: str = "200000000359"
    ssp_to: str = "200000000115"
    parallel: int = 5
    timeout_s: float = 30.0

    @property
    def root(self) -> str:
        # implementation_api.md: the service root has no trailing "/".
        return self.target.rstrip("/")


@dataclass(frozen=True, slots=True)
class Reply:
    """One exchange as seen on the wire (the body already un-gzipped)."""

    method: str
    path: str
    status: int
    headers: CIMultiDictProxy[str]
    body: bytes
    request_id: str | None

    @property
    def content_type(self) -> str:
        return self.headers.get("Content-Type", "")

    @property
    def is_json(self) -> bool:
        return "json" in self.content_type.lower()

    @property
    def is_xml(self) -> bool:
        return "xml" in self.content_type.lower()

    def json(self) -> Any:
        """The body as JSON, or None when it is not JSON."""
        try:
            return json.loads(self.body)
        except ValueError:
            return None

    def resource(self) -> dict[str, Any]:
        """The body as a JSON object ({} when it is anything else)."""
        found = self.json()
        return found if isinstance(found, dict) else {}

    @property
    def resource_type(self) -> str | None:
        kind = self.resource().get("resourceType")
        return kind if isinstance(kind, str) else None

    def seen(self) -> str:
        """A short account of the reply for a FAIL line."""
        text = f"{self.status} {self.resource_type or self.content_type or 'no body'}"
        issue = first_issue(self.resource())
        if issue:
            text += f" ({issue})"
        return text

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


def first_issue(outcome: dict[str, Any]) -> str:
    """``code/SPINE_CODE: diagnostics`` of an OperationOutcome's first issue, or ''."""
    issues = outcome.get("issue") if outcome.get("resourceType") == "OperationOutcome" else None
    if not isinstance(issues, list) or not issues or not isinstance(issues[0], dict):
        return ""
    issue = issues[0]
    codings = (issue.get("details") or {}).get("coding") or [{}]
    spine = codings[0].get("code", "") if isinstance(codings[0], dict) else ""
    return f"{issue.get('code')}/{spine}: {str(issue.get('diagnostics', ''))[:120]}"


def query(*pairs: tuple[str, str]) -> str:
    """An RFC 3986 query string (``+`` in an offset becomes %2B, as it must)."""
    return "&".join(f"{quote(k, safe=':._')}={quote(v, safe=':,._-')}" for k, v in pairs)


class Consumer:
    """Sends requests to the target as a national booking consumer would."""

    def __init__(self, session: aiohttp.ClientSession, options: Options) -> None:
        self.session = session
        self.options = options
        self.replies: list[Reply] = []

    def token(self, scope: str, **claims: Any) -> str:
        """A JWT for ``scope``; ``claims`` spoil or replace claims (None removes one)."""
        payload = build_payload(
            scope=scope,
            audience=self.options.audience or self.options.root,
            organisation_ods=self.options.ods,
            device_id="uec-gateway-selftest",
            device_model="uec-gateway selftest",
        )
        for name, value in claims.items():
            if value is None:
                payload.pop(name, None)
            else:
                payload[name] = value
        return encode_token(
            payload, algorithm=self.options.algorithm, key=self.options.key, kid=self.options.kid
        )

    def headers(self, interaction: Interaction, token: str | None) -> CIMultiDict[str]:
        spec = interaction.value
        found: CIMultiDict[str] = CIMultiDict(
            {
                # implementation_api.md: the Spine proxy headers every consumer adds.
                "Ssp-TraceID": str(uuid.uuid4()),
                "Ssp-From": self.options.ssp_from,
                "Ssp-To": self.options.ssp_to,
                "Ssp-InteractionID": spec.interaction_id,
                "X-Request-ID": str(uuid.uuid4()),
            }
        )
        token = self.token(spec.scope.value) if token is None else token
        if token != NO_TOKEN:
            found["Authorization"] = f"Bearer {token}"
        return found

    async def send(
        self,
        interaction: Interaction,
        path: str,
        *,
        params: str = "",
        body: bytes | dict[str, Any] | None = None,
        token: str | None = None,
        headers: dict[str, str] | None = None,
        compress: bool = False,
    ) -> Reply:
        """One request below the service root; ``headers`` override (a value '' removes)."""
        sent = self.headers(interaction, token)
        data = json.dumps(body).encode() if isinstance(body, dict) else body
        if data is not None:
            sent["Content-Type"] = f"{FHIR_JSON};charset=utf-8"
        if compress and data is not None:
            data = gzip.compress(data)
            sent["Content-Encoding"] = "gzip"
        for name, value in (headers or {}).items():
            sent.popall(name, None)
            if value:
                sent[name] = value
        target = f"{self.options.root}{path}" + (f"?{params}" if params else "")
        reply = await self._exchange(
            interaction.value.method, URL(target, encoded=True), sent, data
        )
        self.replies.append(reply)
        return reply

    async def _exchange(
        self, method: str, url: URL, sent: CIMultiDict[str], data: bytes | None
    ) -> Reply:
        try:
            # No automatic Accept: a request without one must be possible (implementation_api.md).
            async with self.session.request(
                method, url, headers=sent, data=data, skip_auto_headers=("Accept",)
            ) as resp:
                body = _decoded(resp.headers, await resp.read())
                return Reply(
                    method,
                    url.path_qs,
                    resp.status,
                    resp.headers,
                    body,
                    sent.get("X-Request-ID"),
                )
        except (aiohttp.ClientConnectionError, TimeoutError) as exc:
            raise TargetUnreachable(f"{method} {url}: {exc or type(exc).__name__}") from exc


def _decoded(headers: CIMultiDictProxy[str], raw: bytes) -> bytes:
    """The body un-gzipped when the reply says it is gzip (kept as sent if it is not)."""
    if headers.get("Content-Encoding", "").lower() != "gzip":
        return raw
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError):
        return raw
