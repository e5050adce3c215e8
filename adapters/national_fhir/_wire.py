"""Requests to a provider through the Spine Secure Proxy, and the answers read back.

implementation_api.md: the URL is the SSP URL followed by the provider's
service root and the FHIR path, joined with exactly one '/'; every request
carries a fresh JWT (fs_authentication.md), the four Spine proxy headers and an
X-Request-ID (fs_xti.md) that stays the same on every resend of one request.
Answers may be gzip-compressed or not; both are read.
"""

from __future__ import annotations

import enum
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import orjson
import structlog
from yarl import URL

from adapters._resilience import RetryPolicy, pause
from adapters.domain import CallContext
from adapters.national_fhir._token import Scope, TokenIssuer

log = structlog.get_logger(__name__)

_URN = "urn:nhs:names:services:careconnect:fhir:rest:"
FHIR_JSON = "application/fhir+json"
#: Larger answers are refused rather than held in memory.
MAX_BODY = 20_000_000


class Interaction(enum.Enum):
    """The provider interactions this consumer makes: Ssp-InteractionID and JWT scope."""

    SEARCH_SLOTS = (_URN + "read:slot", Scope.SLOT_READ)
    BOOK = (_URN + "create:appointment", Scope.APPOINTMENT_WRITE)
    READ = (_URN + "read:appointment", Scope.APPOINTMENT_READ)
    # Only read/create/metadata/slot ids are printed; update follows their pattern
    # (docs/spec-choices.md records the same choice on the provider side).
    CANCEL = (_URN + "update:appointment", Scope.APPOINTMENT_WRITE)
    METADATA = (_URN + "read:metadata", Scope.SLOT_READ)

    @property
    def interaction_id(self) -> str:
        return str(self.value[0])

    @property
    def scope(self) -> Scope:
        scope: Scope = self.value[1]
        return scope


@dataclass(frozen=True, slots=True)
class Endpoint:
    """A provider as the SSP knows it: its ASID (Ssp-To) and its FHIR service root."""

    asid: str
    root: str


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    headers: Mapping[str, str]
    #: The parsed JSON body; None when there was none or it was not JSON.
    body: Any = None
    #: True when a body was present but could not be read as JSON.
    malformed: bool = False

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


class ConnectionLost(Exception):
    """Every send of one request lost its connection before a complete answer."""

    def __init__(self, sent: bool, cause: BaseException) -> None:
        super().__init__(type(cause).__name__)
        #: Whether any attempt may have reached the provider.
        self.sent = sent


@dataclass(frozen=True, slots=True)
class Call:
    method: str
    endpoint: Endpoint
    #: The path below the service root, starting with '/' (e.g. "/Appointment/12").
    path: str
    interaction: Interaction
    request_id: str
    query: Sequence[tuple[str, str]] = ()
    body: Any = None
    if_match: str | None = None
    extra: Mapping[str, str] = field(default_factory=dict)


def join(proxy: str, target: str) -> str:
    """implementation_api.md: the SSP URL followed by the provider URL, one '/' between."""
    return proxy.rstrip("/") + "/" + target.lstrip("/")


class Wire:
    """One aiohttp session to the SSP; knows how to send one FHIR call and read its answer."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        ssp_url: str,
        asid: str,
        tokens: TokenIssuer,
        attempts: int,
        adapter: str,
    ) -> None:
        self._session = session
        self._ssp_url = ssp_url
        self._asid = asid
        self._tokens = tokens
        self._attempts = attempts
        self._adapter = adapter

    def url(self, call: Call) -> URL:
        target = join(self._ssp_url, call.endpoint.root + call.path)
        url = URL(target, encoded=True)
        return url.update_query(list(call.query)) if call.query else url

    def headers(self, call: Call, ctx: CallContext | None) -> dict[str, str]:
        token = self._tokens.token(
            audience=call.endpoint.root, scope=call.interaction.scope, ctx=ctx, now=time.time()
        )
        headers = {
            "Authorization": f"Bearer {token}",
            "Accept": FHIR_JSON,
            "Accept-Encoding": "gzip",
            # implementation_api.md "Spine Proxy Headers": a trace id per request.
            "Ssp-TraceID": str(uuid.uuid4()),
            "Ssp-From": self._asid,
            "Ssp-To": call.endpoint.asid,
            "Ssp-InteractionID": call.interaction.interaction_id,
            # fs_xti.md: the same X-Request-ID on every resend of this request.
            "X-Request-ID": call.request_id,
            **call.extra,
        }
        if call.body is not None:
            headers["Content-Type"] = f"{FHIR_JSON};charset=utf-8"
        if call.if_match is not None:
            headers["If-Match"] = call.if_match
        return headers

    async def send(self, call: Call, ctx: CallContext | None) -> Reply:
        """Send ``call``, resending on a lost connection; raise ``ConnectionLost`` at the end."""
        data = orjson.dumps(call.body) if call.body is not None else None
        sent = False
        for attempt in range(1, self._attempts + 1):
            try:
                return await self._once(call, ctx, data, attempt)
            except aiohttp.ClientConnectorError as exc:  # nothing reached the proxy
                error: BaseException = exc
            except (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError) as exc:
                sent, error = True, exc
            log.warning(
                "provider_connection_lost",
                adapter=self._adapter,
                interaction=call.interaction.name.lower(),
                attempt=attempt,
                error_type=type(error).__name__,
                x_request_id=call.request_id,
            )
            remaining = ctx.remaining() if ctx is not None else None
            if not await pause(RetryPolicy(self._attempts, backoff_s=0.05), attempt, remaining):
                break
        raise ConnectionLost(sent, error)

    async def _once(
        self, call: Call, ctx: CallContext | None, data: bytes | None, attempt: int
    ) -> Reply:
        began = time.perf_counter()
        headers = self.headers(call, ctx)
        async with self._session.request(
            call.method, self.url(call), data=data, headers=headers
        ) as response:
            raw = await response.content.read(MAX_BODY + 1)
            reply = _reply(response.status, response.headers, raw)
        log.info(
            "provider_answered",
            adapter=self._adapter,
            interaction=call.interaction.name.lower(),
            status=reply.status,
            attempt=attempt,
            x_request_id=call.request_id,
            ssp_trace_id=headers["Ssp-TraceID"],
            server_request_id=reply.header("X-Request-ID"),
            correlation_id=reply.header("X-Correlation-ID"),
            elapsed_ms=round((time.perf_counter() - began) * 1000, 1),
        )
        return reply


def _reply(status: int, headers: Mapping[str, str], raw: bytes) -> Reply:
    lowered = {k.lower(): v for k, v in headers.items()}
    if not raw.strip():
        return Reply(status, lowered)
    if len(raw) > MAX_BODY:
        return Reply(status, lowered, malformed=True)
    try:
        return Reply(status, lowered, orjson.loads(raw))
    except orjson.JSONDecodeError:
        return Reply(status, lowered, malformed=True)
