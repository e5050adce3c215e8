"""Forwarding one API request to its receiver and bringing the answer back unchanged.

End-to-end-workflow/Routing: the proxy sends the request on to the endpoint the
target identifier names, with method, path below the API root, query, body and
headers as sent; the receiver's status, headers and body come back as they are.
Two things a real proxy does differently from a plain pipe: ``Authorization`` is
not forwarded (the receiver authenticates the proxy by TLS-MA, Security-and-
Authorisation/Receiver, never by the sender's token), and hop-by-hop headers
(RFC 9110 section 7.6.1) belong to each connection, not to the request.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass

import aiohttp
from aiohttp import web
from multidict import CIMultiDict
from yarl import URL

from gateway.bars_proxy import outcome
from gateway.bars_proxy.settings import ClientTls

_HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)
#: Not sent on: the connection's own, the sender's token, and what the client recomputes.
_NOT_FORWARDED = _HOP_BY_HOP | {"host", "content-length", "authorization", "accept-encoding"}
#: Not answered back: the connection's own, and what our server recomputes.
_NOT_ANSWERED = _HOP_BY_HOP | {"content-length", "content-encoding", "date", "server"}


@dataclass(frozen=True, slots=True)
class Answer:
    """The receiver's answer, as it came."""

    status: int
    headers: CIMultiDict[str]
    body: bytes

    def response(self, request: web.Request) -> web.Response:
        headers = CIMultiDict(self.headers)
        for name, value in outcome.echoed(request).items():
            headers.setdefault(name, value)
        return web.Response(status=self.status, body=self.body, headers=headers)


def client_context(tls: ClientTls | None) -> ssl.SSLContext | bool:
    """The TLS the proxy uses towards https receivers: its certificate, their CA."""
    if tls is None:
        return True
    context = ssl.create_default_context(cafile=str(tls.ca_file) if tls.ca_file else None)
    context.load_cert_chain(str(tls.cert_file), str(tls.key_file))
    return context


def receiver_url(root: str, relative: str, query: str) -> URL:
    """``root`` + the path below the API root + the query, as sent (no re-encoding)."""
    return URL(f"{root}{relative}" + (f"?{query}" if query else ""), encoded=True)


def forwarded_headers(request: web.Request) -> CIMultiDict[str]:
    return CIMultiDict(
        (name, value)
        for name, value in request.headers.items()
        if name.lower() not in _NOT_FORWARDED
    )


async def forward(
    session: aiohttp.ClientSession, request: web.Request, url: URL, timeout_s: float
) -> Answer:
    """Send ``request`` to ``url``; ``ProxyError`` if the receiver cannot be reached in time."""
    body = await request.read()
    try:
        async with session.request(
            request.method,
            url,
            headers=forwarded_headers(request),
            data=body if body else None,
            allow_redirects=False,
            timeout=aiohttp.ClientTimeout(total=timeout_s),
        ) as resp:
            data = await resp.read()
            headers = CIMultiDict(
                (n, v) for n, v in resp.headers.items() if n.lower() not in _NOT_ANSWERED
            )
            return Answer(resp.status, headers, data)
    except TimeoutError:
        raise outcome.timeout(f"The receiver did not answer within {timeout_s:g}s.") from None
    except (aiohttp.ClientError, OSError, ssl.SSLError) as exc:
        raise outcome.unavailable(
            f"The receiver could not be reached: {type(exc).__name__}."
        ) from None
