"""The message journal: legacy messages kept (sealed) with their outcome, replayed, shadowed.

- ``settings``: the ``journal:`` section (key variable, plain-text opt-in, retention);
- ``seal``: AES-GCM sealing of payloads at rest;
- ``sink``: what journals each message an adapter hears (``attach`` wires it in);
- ``replay``: ``POST /admin/replay``, re-processing failed messages idempotently;
- ``shadow``: a window of journaled messages through a candidate configuration, no side effects;
- ``cli``: ``uec-gateway replay``.

Operator documentation: ``docs/ops/journal.md``.
"""
