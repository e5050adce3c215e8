"""Business acknowledgements waited on by tracking id.

ITK 2.2 sends the business ack as a message of its own, which may arrive
before the infrastructure ack's HTTP answer is read: a send registers its
tracking id *before* it posts, and an ack nobody waits for (a late one, or
one for a report sent before a restart) is logged with its tracking id and
outcome, never its content.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from dataclasses import dataclass

import structlog

log = structlog.get_logger(__name__)

#: Acks kept for tracking ids nobody waits for yet (bounded: oldest dropped).
_EARLY = 1024


@dataclass(frozen=True, slots=True)
class BusinessOutcome:
    """What a business ack said about one report."""

    tracking_id: str
    accepted: bool
    #: The ack's code (HL7 ``AA``/``AE``/``AR``, or the error code it carried), for the log.
    code: str = ""


class AckBoard:
    def __init__(self, adapter: str) -> None:
        self._adapter = adapter
        #: Tracking id -> the futures of the sends waiting on it (two sends of one version
        #: at once each get the ack).
        self._waiting: dict[str, list[asyncio.Future[BusinessOutcome]]] = {}
        self._early: OrderedDict[str, BusinessOutcome] = OrderedDict()

    def expect(self, tracking_id: str) -> asyncio.Future[BusinessOutcome]:
        """A future the ack for ``tracking_id`` resolves (at once if it came already)."""
        key = tracking_id.upper()
        future: asyncio.Future[BusinessOutcome] = asyncio.get_running_loop().create_future()
        early = self._early.pop(key, None)
        if early is not None:
            future.set_result(early)
        else:
            self._waiting.setdefault(key, []).append(future)
        return future

    def forget(self, tracking_id: str, future: asyncio.Future[BusinessOutcome]) -> None:
        """Stop waiting with ``future`` (its send is over)."""
        key = tracking_id.upper()
        waiters = self._waiting.get(key, [])
        if future in waiters:
            waiters.remove(future)
        if not waiters:
            self._waiting.pop(key, None)

    def deliver(self, outcome: BusinessOutcome) -> None:
        """Hand an arrived ack to its waiters, or keep it (and log it) if there are none."""
        key = outcome.tracking_id.upper()
        waiters = [f for f in self._waiting.pop(key, []) if not f.done()]
        for future in waiters:
            future.set_result(outcome)
        if waiters:
            return
        log.warning(
            "itk_business_ack_unexpected" if outcome.accepted else "itk_business_nack_unexpected",
            adapter=self._adapter,
            tracking_id=key,
            code=outcome.code,
        )
        self._early[key] = outcome
        while len(self._early) > _EARLY:
            self._early.popitem(last=False)
