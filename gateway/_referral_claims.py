"""The idempotency ledger as referrals use it: their own scope, their own replay.

A referral's X-Request-ID is claimed in the ledger like a booking's (leased,
renewed by a heartbeat), under the scope ``referral|<consumer>`` so a referral
and a booking sent with the same id never mistake one for the other. The ledger's
``appointment_id`` column then holds the referral id.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime

import structlog

from adapters.domain import Referral
from gateway._claims import ClaimOwner, hold, seconds_left
from gateway.errors import ApiError, ErrorKind
from gateway.store import ClaimState, Store

log = structlog.get_logger(__name__)

#: Namespace of referral ids derived from an idempotency key.
REFERRAL_NAMESPACE = uuid.UUID("0c7f3c55-2f5e-4d59-8d8e-5a4f3b1c9e21")


def referral_scope(scope: str) -> str:
    return f"referral|{scope}"


def referral_id_for(scope: str, request_id: str | None) -> str:
    """The id a new referral gets: fixed by its idempotency key, so a retry finds it."""
    if not request_id:
        return str(uuid.uuid4())
    return str(uuid.uuid5(REFERRAL_NAMESPACE, f"{scope}|{request_id}"))


def referral_hash(referral: Referral, action: str) -> str:
    """What a resend must repeat to count as the same request (ids and links excluded)."""
    body = referral.model_dump_json(
        exclude={"id", "version", "appointment_id", "appointment_ref", "supplier_ref"}
    )
    return hashlib.sha256(f"{action}|{body}".encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class ReferralReplay:
    """Where a resent X-Request-ID already led."""

    referral_id: str
    version: int
    same_body: bool


class DuplicateReferral(Exception):
    """This X-Request-ID already made a referral version (BaRS: 409 REC_CONFLICT)."""

    def __init__(self, replay: ReferralReplay) -> None:
        super().__init__(replay.referral_id)
        self.replay = replay


@dataclass(frozen=True)
class ReferralLedger:
    store: Store
    owner: ClaimOwner
    lease_s: float
    clock: Callable[[], datetime]

    @asynccontextmanager
    async def claim(self, scope: str, request_id: str | None, digest: str) -> AsyncIterator[None]:
        """Hold (``referral|scope``, X-Request-ID) while the referral is written."""
        if not request_id:
            yield
            return
        scope = referral_scope(scope)
        key = (scope, request_id)
        if key in self.owner.running:
            raise self._in_progress(request_id, None)
        claim = await self.store.claim_request(
            scope, request_id, digest, self.clock(), self.lease_s, self.owner.id
        )
        if claim.state is ClaimState.DONE and claim.appointment_id and claim.version:
            same = claim.body_hash == digest
            raise DuplicateReferral(ReferralReplay(claim.appointment_id, claim.version, same))
        if claim.state is ClaimState.PENDING:
            raise self._in_progress(request_id, claim.lease_until)
        if claim.state is ClaimState.TAKEN_OVER:
            log.info("referral_claim_taken_over", previous_owner=claim.owner)
        async with hold(self.owner, self.store, scope, request_id, self.lease_s, self.clock):
            yield

    async def complete(
        self, scope: str, request_id: str | None, referral_id: str, version: int
    ) -> None:
        if request_id:
            await self.store.complete_request(
                referral_scope(scope), request_id, referral_id, version
            )

    def _in_progress(self, request_id: str, lease_until: datetime | None) -> ApiError:
        wait_s = seconds_left(lease_until, self.clock(), self.lease_s)
        return ApiError(
            ErrorKind.REQUEST_IN_PROGRESS,
            f"a request with X-Request-ID '{request_id}' is still being processed; resend it "
            f"unchanged, with the same X-Request-ID, after {wait_s} s to get its outcome",
            headers={"Retry-After": str(wait_s)},
        )
