"""One ITK message, from bytes to the answer: check, claim its tracking id, refer, acknowledge.

A tracking id is claimed in the store before any payload is read: a resend of
an answered message gets the first answer back (the referral is never made
twice, across restarts too); one still being worked on elsewhere is a
transient server fault (send again later); a tracking id reused for another
envelope is refused. Refused and failed messages leave no receipt, so a
corrected resend is processed afresh.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import structlog

from adapters import telemetry
from adapters.domain import CallContext, RequestingOrganisation
from adapters.itk_toolkit.distribution import Address
from adapters.itk_toolkit.errors import ItkError, ToolkitCode
from adapters.itk_toolkit.message import ItkMessage, read_message
from adapters.soap_toolkit.envelope import SoapVersion
from gateway._referral_claims import DuplicateReferral
from gateway.config import ItkSettings
from gateway.errors import ApiError, ErrorKind
from gateway.itk import answers, reading, validate
from gateway.itk.tables import Tables
from gateway.logs import mask_identifiers
from gateway.runtime import Generation
from gateway.service import idempotency_key
from gateway.store import ItkReceipt, Store
from gateway.trace import scope as trace_scope

log = structlog.get_logger("gateway.itk")
#: Whose tracking ids these are (the referral ledger's scope): ITK's are global UUIDs.
SCOPE = "itk"


@dataclass
class Receipt:
    """How one message ended, for the door's log line and audit row (ids only)."""

    outcome: str = "refused"
    tracking_id: str | None = None
    message_id: str | None = None
    sender_ods: str | None = None
    service_id: str | None = None
    referral_id: str | None = None
    error_code: str | None = None
    extra: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Receiver:
    settings: ItkSettings
    tables: Tables
    clock: Callable[[], datetime]
    owner: str

    async def handle(
        self, body: bytes, content_type: str, generation: Generation, store: Store, receipt: Receipt
    ) -> answers.Answer:
        telemetry.message("itk", "received")
        announced = validate.media_version(content_type)
        fallback = announced or SoapVersion.V11
        try:
            message = read_message(
                body, max_bytes=self.settings.max_body_bytes, max_depth=self.settings.max_depth
            )
        except ItkError as error:
            return self._fault(error, fallback, None, receipt)
        envelope = message.distribution
        receipt.tracking_id, receipt.message_id = (
            envelope.tracking_id,
            message.addressing.message_id,
        )
        receipt.sender_ods = _ods(envelope.sender) or next(
            (_ods(a) for a in envelope.audit_identity if _ods(a)), None
        )
        now = self.clock()
        skew = timedelta(seconds=self.settings.clock_skew_s)
        try:
            accepted = validate.accept(message, announced, self.tables, now, skew)
        except ItkError as error:
            return self._fault(error, message.version, message, receipt)
        receipt.service_id = accepted.service_id
        lease = 2 * self.settings.time_budget_s + 5
        held = await store.claim_itk_receipt(
            envelope.tracking_id, message.digest, self.owner, now, lease
        )
        if held is not None:
            return self._held(held, message, receipt)
        try:
            answer = await self._refer(message, accepted, generation, now, receipt)
        except ItkError as error:
            await store.release_itk_receipt(envelope.tracking_id, self.owner)
            return self._fault(error, message.version, message, receipt)
        except Exception:
            await store.release_itk_receipt(envelope.tracking_id, self.owner)
            log.exception("itk_message_failed", tracking_id=envelope.tracking_id)
            failed = ItkError(ToolkitCode.PROCESSING_FAILED, "internal error")
            return self._fault(failed, message.version, message, receipt)
        ids = [receipt.referral_id] if receipt.referral_id else []
        await store.answer_itk_receipt(
            envelope.tracking_id, self.owner, answer.body, ids, self.clock()
        )
        telemetry.message("itk", "applied")
        return answer

    async def _refer(
        self,
        message: ItkMessage,
        accepted: validate.Accepted,
        generation: Generation,
        now: datetime,
        receipt: Receipt,
    ) -> answers.Answer:
        envelope = message.distribution
        docs = reading.documents(envelope, self.settings.max_body_bytes, self.settings.max_depth)
        if docs:  # dos_itk.md: the CDA id is what the booking's DocumentReference names
            trace_scope.note(cda_id=docs[0].document_id)
        try:
            referral = reading.read_referral(
                docs, service_id=accepted.service_id, sender_ods=receipt.sender_ods, received_at=now
            )
        except ItkError as error:
            if error.code is not ToolkitCode.PAYLOAD_REFUSED or not envelope.business_ack_requested:
                raise
            receipt.outcome, receipt.error_code = "business_nack", error.code.code
            return answers.accepted(message, self._us(), docs[0].document_id, refused=error)
        ctx = self._context(envelope.tracking_id, receipt.sender_ods)
        referrals = generation.service.referrals
        named = referral.appointment_id
        if named is not None and await referrals.store.get(named) is None:
            # The report names a booking this gateway does not hold (yet, or made elsewhere):
            # kept unlinked; its document id links it when the booking arrives (dos_itk.md).
            log.info("itk_appointment_unknown", tracking_id=envelope.tracking_id)
            referral = referral.model_copy(update={"appointment_id": None})
        try:
            version = await referrals.create(
                referral, ctx, scope=SCOPE, client_request_id=envelope.tracking_id
            )
            receipt.referral_id = version.referral_id
        except DuplicateReferral as dup:
            # A message whose first try made the referral and then died before answering.
            receipt.referral_id = dup.replay.referral_id
        except ApiError as error:
            raise _from_api_error(error) from None
        receipt.outcome = "referral_created"
        return answers.accepted(message, self._us(), docs[0].document_id)

    def _context(self, tracking_id: str, ods: str | None) -> CallContext:
        return CallContext(
            request_id=idempotency_key(SCOPE, tracking_id),
            correlation_id=tracking_id,
            deadline=time.monotonic() + self.settings.time_budget_s,
            organisation=RequestingOrganisation(ods_code=ods) if ods else None,
        )

    def _us(self) -> Address:
        return Address.ods(self.settings.ods_code)

    def _held(self, held: ItkReceipt, message: ItkMessage, receipt: Receipt) -> answers.Answer:
        if not held.answered:
            error = ItkError(ToolkitCode.IN_PROGRESS, "an earlier send of this message is running")
            return self._fault(error, message.version, message, receipt)
        if held.envelope_hash != message.digest or held.answer is None:
            error = ItkError(ToolkitCode.TRACKING_ID_REUSED, "send a new tracking id")
            return self._fault(error, message.version, message, receipt)
        receipt.outcome = "duplicate"
        telemetry.message("itk", "replayed")
        receipt.referral_id = next(iter(held.referral_ids), None)
        return answers.Answer(held.answer, 200, message.version)

    def _fault(
        self, error: ItkError, version: SoapVersion, message: ItkMessage | None, receipt: Receipt
    ) -> answers.Answer:
        receipt.outcome, receipt.error_code = "fault", error.code.code
        telemetry.message("itk", "rejected")
        log.info(
            "itk_message_refused",
            code=error.code.code,
            reason=error.code.name.lower(),
            tracking_id=receipt.tracking_id,
        )
        relates = None if message is None else message.addressing.message_id or None
        return answers.fault(error, version, relates)


def _ods(address: Address | None) -> str | None:
    if address is None or address.kind != "ods":
        return None
    return address.key.split(":", 1)[0] or None


def _from_api_error(error: ApiError) -> ItkError:
    """The referral service's refusal as the ITK code a sender can act on."""
    if error.kind is ErrorKind.REQUEST_IN_PROGRESS:
        return ItkError(ToolkitCode.IN_PROGRESS, error.diagnostics[:200])
    # A supplier's refusal is final however it is answered: "fix it", never "send again".
    final = error.kind in (ErrorKind.SUPPLIER_REFUSED, ErrorKind.NOT_IMPLEMENTED)
    if error.kind.value.status < 500 or final:
        return ItkError(ToolkitCode.PAYLOAD_REFUSED, mask_identifiers(error.diagnostics[:200]))
    return ItkError(ToolkitCode.PROCESSING_FAILED, error.kind.name.lower())
