"""Slot search answers without repeated work (issue 14).

A slot search answer is a small head (Bundle id, ``meta.lastUpdated``, ``total``,
the ``self``/``next`` links) written for each request, and a page of entries
(the slots and their ``_include`` chain) that is the same for every request with
the same query while the diary does not change. So:

- where the supplier names the diary state its result came from
  (``SlotSearchResult.version``; the embedded diary does, moving it with every
  change to any slot, in the same transaction), the page's entries are kept here
  as finished bytes, JSON or XML, by (version, query, window, includes, page size,
  base URL, format); the next such search costs the head and a join;
- where it cannot (a REST supplier, a PAS), nothing about the diary is reused:
  the answer is the supplier's, rendered from its slots, and only the rendering of
  a slot already seen unchanged is reused (``bundle.slot_entries``).

A kept page is only ever served for the version it was rendered at; a booking
through the gateway moves the version before its 201 is sent, so a search that
starts after a booking never offers that slot (tests/performance/).

Large pages (more than ``formats.OFF_LOOP_ENTRIES`` slots) are rendered on a
worker thread, so other requests are answered meanwhile (a 1,000-slot page takes
tens of milliseconds to write).
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass
from datetime import datetime

from adapters.domain import SlotSearchResult
from gateway.fhir import bundle, formats
from gateway.fhir.formats import WireFormat
from gateway.fhir.render import Json
from gateway.fhir.search import SlotSearch

_XML_CLOSE = b"</Bundle>"


@dataclass(frozen=True, slots=True)
class RenderedPage:
    """One page of a slot search, its entries already on the wire."""

    #: JSON: ``"entry":[…]`` (empty when no slots); XML: the ``<entry>`` elements.
    entries: bytes
    total: int
    next_start: datetime | None
    slot_count: int
    #: The first slot's start: a page of a window starting "now" holds while now
    #: has not passed it (until then no slot of the page, or before it, has started).
    first_start: datetime | None = None


@dataclass(frozen=True, slots=True)
class Answer:
    body: bytes
    slot_count: int


class SlotPages:
    """Rendered pages of recent searches, the most recent ``size``."""

    def __init__(self, size: int = 256) -> None:
        self._size = size
        self._pages: OrderedDict[Hashable, RenderedPage] = OrderedDict()
        #: Answers that reused a kept page, and answers rendered afresh.
        self.hits = 0
        self.misses = 0

    async def answer(
        self,
        found: SlotSearchResult,
        wanted: SlotSearch,
        *,
        base: str,
        self_url: str,
        now: datetime,
        fmt: WireFormat,
    ) -> Answer:
        """The search answer's bytes in ``fmt``, reusing the page if it was rendered."""
        key = _key(found, wanted, base, fmt)
        page = self._pages.get(key) if key is not None else None
        if page is not None and wanted.from_now and _started(page, now):
            page = None
        if page is None:
            self.misses += 1
            page = await _render(found, wanted, base, fmt)
            if key is not None:
                self._keep(key, page)
        else:
            self.hits += 1
            self._pages.move_to_end(key)
        next_url = wanted.next_url(self_url, page.next_start) if page.next_start else None
        head = bundle.slot_head(self_url, page.total, now, next_url)
        return Answer(_join(head, page, fmt), page.slot_count)

    def _keep(self, key: Hashable, page: RenderedPage) -> None:
        self._pages[key] = page
        while len(self._pages) > self._size:
            self._pages.popitem(last=False)


def _key(
    found: SlotSearchResult, wanted: SlotSearch, base: str, fmt: WireFormat
) -> Hashable | None:
    if found.version is None:
        return None
    includes = frozenset(bundle.include_key(i) for i in wanted.includes)
    window: Hashable = wanted.window
    if wanted.from_now:
        window = ("now", wanted.window.start.upper, wanted.window.end)
    return (found.version, wanted.query, window, includes, wanted.count, base, fmt)


def _started(page: RenderedPage, now: datetime) -> bool:
    """Whether a slot the page offers (its first, the earliest) has started by ``now``."""
    return page.first_start is not None and now > page.first_start


async def _render(
    found: SlotSearchResult, wanted: SlotSearch, base: str, fmt: WireFormat
) -> RenderedPage:
    page = wanted.page(found)
    if len(page.result.slots) <= formats.OFF_LOOP_ENTRIES:
        entries = _entries(page.result, wanted, base, fmt)
    else:
        entries = await asyncio.to_thread(_entries, page.result, wanted, base, fmt)
    slots = page.result.slots
    first = slots[0].start if slots else None
    return RenderedPage(entries, page.total, page.next_start, len(slots), first)


def _entries(result: SlotSearchResult, wanted: SlotSearch, base: str, fmt: WireFormat) -> bytes:
    entries = bundle.slot_entries(result, wanted.includes, base)
    if not entries:
        return b""
    written = formats.dump({"resourceType": "Bundle", "entry": entries}, fmt)
    if fmt is WireFormat.XML:
        # Everything inside the root element: the <entry> elements, nothing else.
        opened = written.index(b">", written.index(b"<Bundle")) + 1
        return written[opened : written.rindex(_XML_CLOSE)]
    # {"resourceType":"Bundle","entry":[…]} -> "entry":[…]
    return written[written.index(b'"entry"') : -1]


def _join(head: Json, page: RenderedPage, fmt: WireFormat) -> bytes:
    written = formats.dump(head, fmt)
    if not page.entries:
        return written
    if fmt is WireFormat.XML:
        return written[: written.rindex(_XML_CLOSE)] + page.entries + _XML_CLOSE
    return written[:-1] + b"," + page.entries + b"}"
