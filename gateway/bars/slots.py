"""``GET /Slot`` with BaRS's parameters, answered as a UK Core searchset."""

from __future__ import annotations

from aiohttp import web

from adapters.domain import utcnow
from gateway.bars import headers, render, search
from gateway.bars.requests import answer, base, begin, timeout
from gateway.http.exchange import SETTINGS


async def search_slots(request: web.Request) -> web.Response:
    ex = begin(request, "slot_search")
    assert ex.service_id is not None
    now = utcnow()
    most = request.config_dict[SETTINGS].server.max_slots_per_page
    wanted, honoured = search.slot_search(
        request.query, ex.service_id, now, most, headers.target(request.headers).value
    )
    found = await ex.current.service.search(wanted.query, ex.context(timeout(request)))
    page = wanted.page(found)
    ex.slot_count = len(page.result.slots)
    self_url = search.self_url(base(request), request.query, honoured)
    body = render.slot_bundle(
        page.result,
        honoured,
        base=base(request),
        self_url=self_url,
        now=now,
        total=page.total,
        next_url=wanted.next_url(self_url, page.next_start) if page.next_start else None,
    )
    return await answer(body, ex)
