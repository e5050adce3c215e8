"""The mock national BaRS proxy and its OAuth 2.0 token endpoint, as an aiohttp app.

- ``POST /oauth2/token``: client credentials with a signed-JWT assertion (``tokens``);
- ``/booking-and-referral/FHIR/R4/*``: every request checked like the real proxy
  (``checks``), routed by ``NHSD-Target-Identifier`` to the receiver's service root
  and its answer brought back unchanged (``forward``);
- ``/_control/*`` when ``settings.control``: faults and what was seen (``control``).

End-to-end-workflow/Routing, Security-and-Authorisation/, Error-Handling/Failure-
Scenarios-1-1-x/Message-Routing. Logs carry ids and the target only, never a body,
a query or a header value that may name a patient.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable

import aiohttp
import structlog
from aiohttp import web
from yarl import URL

from gateway.bars_proxy import checks, control, forward, outcome
from gateway.bars_proxy.faults import Fault, Kind
from gateway.bars_proxy.outcome import ProxyError
from gateway.bars_proxy.settings import API_ROOT, TOKEN_PATH, ProxySettings, route_key
from gateway.bars_proxy.state import STATE, ProxyState, Seen
from gateway.bars_proxy.tokens import TokenError, TokenIssuer

log = structlog.get_logger(__name__)
#: BaRS messages may carry attachments; far above any booking, far below a memory problem.
MAX_BODY = 16 * 1024 * 1024


def create_app(
    settings: ProxySettings, *, clock: Callable[[], float] = time.time
) -> web.Application:
    """The proxy; ``clock`` (Unix seconds) decides token and assertion expiry."""
    app = web.Application(client_max_size=MAX_BODY)
    app[STATE] = ProxyState(settings, clock, TokenIssuer(settings, clock))
    app.cleanup_ctx.append(_client_session)
    app.router.add_post(TOKEN_PATH, token)
    app.router.add_get("/health", health)
    if settings.control:
        control.add_routes(app)
    app.router.add_route("*", API_ROOT + "{tail:(/.*)?}", api)
    app.router.add_route("*", "/{tail:.*}", no_such_endpoint)
    return app


async def _client_session(app: web.Application) -> AsyncIterator[None]:
    state = app[STATE]
    connector = aiohttp.TCPConnector(ssl=forward.client_context(state.settings.tls))
    async with aiohttp.ClientSession(connector=connector, auto_decompress=True) as session:
        state.session = session
        yield
        state.session = None


async def token(request: web.Request) -> web.Response:
    """``POST /oauth2/token``: an access token for a correctly signed client assertion."""
    state = request.app[STATE]
    headers = {"Cache-Control": "no-store"}
    try:
        if request.content_type != "application/x-www-form-urlencoded":
            raise TokenError(
                400, "invalid_request", "the body must be application/x-www-form-urlencoded"
            )
        form = {k: v for k, v in (await request.post()).items() if isinstance(v, str)}
        client_id, body = state.issuer.issue(form)
    except TokenError as exc:
        log.info("proxy_token_refused", error=exc.error)
        return web.json_response(exc.body(), status=exc.status, headers=headers)
    log.info("proxy_token_issued", client_id=client_id)
    return web.json_response(body, headers=headers)


async def health(request: web.Request) -> web.Response:
    """``GET /health``: the proxy is up (for a supervisor or a benchmark waiting on it)."""
    routes = len(request.app[STATE].settings.routes)
    return web.json_response({"status": "pass", "routes": routes})


async def no_such_endpoint(request: web.Request) -> web.Response:
    return outcome.answer(
        request, outcome.not_found(f"Endpoint {request.path[:80]} does not exist on the API.")
    )


def _seen(request: web.Request, relative: str) -> Seen:
    return Seen(
        method=request.method,
        path=relative,
        query=request.rel_url.raw_query_string,
        x_request_id=request.headers.get("X-Request-Id"),
        x_correlation_id=request.headers.get("X-Correlation-Id"),
        nhsd={n: v for n, v in request.headers.items() if n.lower().startswith("nhsd-")},
    )


async def api(request: web.Request) -> web.StreamResponse:
    """One BaRS API request: checked, routed, maybe spoiled by a fault, answered."""
    state = request.app[STATE]
    relative = request.rel_url.raw_path[len(API_ROOT) :] or "/"
    seen = _seen(request, relative)
    state.seen.append(seen)
    try:
        response = await _serve(request, state, seen, relative)
    except ProxyError as exc:
        response = outcome.answer(request, exc)
    except Exception as exc:  # any failure of ours is a PROXY_SERVER_ERROR, never a traceback
        log.error("proxy_failed", error=type(exc).__name__, request_id=seen.x_request_id)
        response = outcome.answer(request, outcome.server_error("The proxy failed unexpectedly."))
    seen.status = response.status if response is not None else None
    log.info(
        "proxy_request_answered",
        request_id=seen.x_request_id,
        correlation_id=seen.x_correlation_id,
        target=seen.target,
        method=seen.method,
        status=seen.status,
        fault=seen.fault,
        forwarded=seen.forwarded,
    )
    if response is None:  # reset-after-forward: the connection is gone, nothing to send
        return web.Response(status=499)
    return response


async def _serve(
    request: web.Request, state: ProxyState, seen: Seen, relative: str
) -> web.Response | None:
    headers = request.headers
    checks.authorise(headers, state.issuer, state.clock)
    checks.transaction_ids(headers)
    target = checks.target(headers)
    seen.target = route_key(target.system, target.value)
    root = state.settings.routes.get(seen.target)
    if root is None:
        raise outcome.not_found("The target endpoint does not exist in the Endpoint Catalogue.")
    url = forward.receiver_url(root, relative, request.rel_url.raw_query_string)
    fault = state.faults.take(request.method, relative)
    if fault is not None:
        seen.fault = fault.fault.value
        return await _spoiled(request, state, seen, fault, url)
    return await _forwarded(request, state, seen, url)


async def _forwarded(request: web.Request, state: ProxyState, seen: Seen, url: URL) -> web.Response:
    seen.forwarded = True
    answer = await forward.forward(state.client, request, url, state.settings.receiver_timeout_s)
    return answer.response(request)


async def _spoiled(
    request: web.Request, state: ProxyState, seen: Seen, fault: Fault, url: URL
) -> web.Response | None:
    """The answer a fault makes of this request (forwarding it first if the fault says so)."""
    match fault.fault:
        case Kind.SLOW:
            await asyncio.sleep(fault.delay_s)
            return await _forwarded(request, state, seen, url)
        case Kind.DROP_AFTER_FORWARD:
            await _forwarded(request, state, seen, url)
            raise outcome.timeout("The receiver did not answer in time.")
        case Kind.RESET_AFTER_FORWARD:
            await _forwarded(request, state, seen, url)
            if request.transport is not None:
                request.transport.abort()  # the receiver did the work; the answer is lost
            return None
    raise _fault_error(fault)


def _fault_error(fault: Fault) -> ProxyError:
    match fault.fault:
        case Kind.TIMEOUT:
            return outcome.timeout("The receiver did not answer in time.")
        case Kind.RATE_LIMIT:
            return ProxyError(
                429,
                "SEND_TOO_MANY_REQUESTS",
                "Too many requests in a given amount of time; retry after 1s.",
                issue="throttled",
                headers={"Retry-After": "1"},
            )
        case Kind.UNAVAILABLE:
            return outcome.unavailable("The proxy was unavailable to service the request.")
        case Kind.UNKNOWN_TARGET:
            return outcome.not_found(
                "The target endpoint does not exist in the Endpoint Catalogue."
            )
        case Kind.SERVER_ERROR:
            return outcome.server_error("The proxy encountered an error processing the request.")
    assert fault.status is not None and fault.code is not None  # Fault._complete
    extra = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
    return ProxyError(
        fault.status,
        fault.code,
        fault.diagnostics or f"Injected {fault.code}.",
        issue=fault.issue,
        headers=extra,
    )


__all__ = ["ProxySettings", "create_app"]
