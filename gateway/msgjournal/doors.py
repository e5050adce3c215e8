"""Journaling messages received by the gateway's own legacy doors (the ITK door).

Unlike an adapter's listener, a door is gateway code: it journals through
``MessageJournal.sink`` directly. Its rows name the door as their route
(``itk``); they are journaled for the record and for shadow-free inspection, and
replay refuses them plainly (no adapter replays a door's messages; the ITK
sender's own resend is the door's replay, made idempotent by its receipts).
"""

from __future__ import annotations

import hashlib

from adapters.journaling import APPLIED, DUPLICATE, REJECTED, Heard
from gateway.msgjournal.settings import JournalSettings
from gateway.msgjournal.sink import MessageJournal
from gateway.store import Store

ITK_CHANNEL = "itk"
#: The ITK door's outcomes (``gateway.itk.receive.Receipt.outcome``) as journal outcomes.
_ITK_OUTCOMES = {"referral_created": APPLIED, "duplicate": DUPLICATE}


async def itk_received(
    store: Store,
    settings: JournalSettings,
    body: bytes | None,
    outcome: str,
    error_code: str | None,
    tracking_id: str | None,
    sender_ods: str | None,
) -> None:
    """Journal one ITK request: the envelope (sealed, plain or not at all) and its outcome."""
    if not settings.enabled:
        return
    payload = body or b""
    journaled = REJECTED if error_code else _ITK_OUTCOMES.get(outcome, REJECTED)
    heard = Heard(
        channel=ITK_CHANNEL,
        sender=sender_ods or "",
        control_id=(tracking_id or "")[:64],
        content_hash=hashlib.sha256(payload).hexdigest(),
        payload=payload,
        outcome=journaled,
        reason_code=f"itk:{error_code}" if error_code else "",
    )
    await MessageJournal(store, settings).sink("itk", heard)
