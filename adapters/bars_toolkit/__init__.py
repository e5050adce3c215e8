"""BaRS on the wire, for whoever sends (a BaRS sender, the ``bars`` adapter) or reads it.

A protocol toolkit, not an adapter: it is registered nowhere and imports no adapter.

The Booking and Referral Standard's transport pieces that are not a door's or an
adapter's own, so each uses them without importing the other:

- ``headers``: the request headers the national proxy expects (End-to-end-workflow/,
  api spec): ``X-Request-Id``/``X-Correlation-Id`` GUIDs, ``NHSD-Target-Identifier``
  and the sender's ``NHSD-*`` identity, each Base64 JSON;
- ``messages``: ``message`` Bundles built from canonical values: the booking-request
  (book, cancel) and the servicerequest-request (a referral), as the BaRS-APP1
  payload pages and the published examples shape them;
- ``rewrite``: a published message made fresh (new ids and timestamps) and moved to a
  live slot, so an example can be sent again.

No aiohttp here: dicts in, dicts and strings out.
"""
