"""A reference BaRS sender: ``uec-gateway simulate bars-sender``.

A real HTTP client (aiohttp, optional client certificate for mTLS) that speaks to a
BaRS receiver's service root as a 111/CAS sender behind the national proxy would:
it sends the published examples (as they are, or fresh and moved to a live slot) and
runs live journeys (search, book, read, cancel, refer). Headers and message Bundles
come from the shared toolkit ``adapters.bars_toolkit``, as the ``bars`` adapter's will.

- ``_http``: one request with the BaRS headers, its answer;
- ``journeys``: search, book, read, cancel, refer, send;
- ``__main__``: the command line.
"""
