"""What the ITK receiver peer has received: one record per tracking id, never two.

A real ITK receiver must recognise a resent tracking id and answer it as before
without processing it again; the peer does, and counts the resends so tests can
see them. With a folder, each report is also written there
(``<tracking id>/envelope.xml`` and ``payload-<n>.xml``) for integrators to read.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

from adapters.itk_toolkit.distribution import Address


@dataclass
class Received:
    tracking_id: str
    service: str
    addresses: tuple[str, ...]
    interaction: str | None
    payload_ids: tuple[str, ...]
    #: Each payload's content as serialised XML bytes.
    payloads: tuple[bytes, ...]
    envelope: bytes
    business_ack_requested: bool
    reply_to: str | None
    #: The answer given the first time (given again to a resend).
    answer: bytes = b""
    #: How many times this tracking id arrived (1 + resends).
    seen: int = 1
    business_acks_sent: int = 0
    #: The sender's address (the business ack's recipient) and the CDA's id.
    sender: Address | None = None
    document_id: str | None = None

    def summary(self) -> dict[str, object]:
        return {
            "tracking_id": self.tracking_id,
            "service": self.service,
            "addresses": list(self.addresses),
            "interaction": self.interaction,
            "payload_ids": list(self.payload_ids),
            "seen": self.seen,
            "business_ack_requested": self.business_ack_requested,
            "business_acks_sent": self.business_acks_sent,
        }


class ReceivedStore:
    def __init__(self, folder: Path | None = None) -> None:
        self._by_id: dict[str, Received] = {}
        self._folder = folder
        self.lock = asyncio.Lock()

    def get(self, tracking_id: str) -> Received | None:
        return self._by_id.get(tracking_id.upper())

    def all(self) -> list[Received]:
        return list(self._by_id.values())

    def add(self, record: Received) -> None:
        """Keep a first-seen report (the caller holds ``lock`` and checked ``get``)."""
        self._by_id[record.tracking_id.upper()] = record
        if self._folder is not None:
            where = self._folder / _safe(record.tracking_id)
            where.mkdir(parents=True, exist_ok=True)
            (where / "envelope.xml").write_bytes(record.envelope)
            for index, payload in enumerate(record.payloads, start=1):
                (where / f"payload-{index}.xml").write_bytes(payload)

    def clear(self) -> None:
        self._by_id.clear()


def _safe(tracking_id: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in tracking_id)[:80] or "_"
