"""The ITK sender adapter: referrals delivered to legacy providers as ITK 2.2 NHS 111 reports.

What it sends (``adapters.itk._wire``, on the ITK toolkit): a SOAP 1.1 message with
WS-Addressing (``Action`` = the service, a new ``MessageID`` per attempt, ``To``,
``ReplyTo`` = the business-ack listener when acks are awaited), a WS-Security
timestamp and UsernameToken, and a ``DistributionEnvelope`` whose header carries the
service, the **tracking id**, the provider's addresses (``mappings/itk_sender``),
the sender and audit identity, a one-item manifest and the handling specification
(interaction, ``ackrequested`` when a business ack is awaited). The payload is the CDA
of the referral (``adapters.cda_toolkit.render_report``: the received CDA unchanged,
or the referral rendered as an NHS 111 report).

Acks (ITK 2.2's framework): the infrastructure ack is the synchronous answer to the
POST (``SimpleMessageResponse`` or an ``InfrastructureResponse``; a SOAP fault with
``ToolkitErrorInfo`` is a refusal, typed by ``_errors``). The business ack is a
message of its own the receiver posts to ``ReplyTo``; it is awaited up to
``business_ack.wait_s``: a negative one is ``BookingRejected``; none in time leaves
the report delivered (the infrastructure ack said so) and is logged.

Resends: the tracking id is fixed by the referral id and version, so every attempt,
a gateway retry and a resend after a restart carry the same one, and a receiver
recognises the duplicate. Transient failures (no connection, no answer, no ack, a
transient toolkit code) are resent after jittered exponential pauses within the
call's deadline.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import aiohttp
import structlog

from adapters import _http, errors
from adapters.contract import Capability, Health, ReferringAdapter, SupplierAdapter
from adapters.domain import (
    Booking,
    BookingRequest,
    CallContext,
    Referral,
    SlotQuery,
    SlotSearchResult,
)
from adapters.itk import _resend, _wire
from adapters.itk._board import AckBoard, BusinessOutcome
from adapters.itk._listener import AckListener
from adapters.itk._options import ItkOptions
from adapters.itk._providers import Provider

log = structlog.get_logger(__name__)

#: Namespace of tracking ids derived from a referral's id and version.
TRACKING_NAMESPACE = uuid.UUID("5b7e0f0c-8a3d-4c61-9b9e-3f1d2c7a6e10")

#: The payload's CDA for a referral (``adapters.cda_toolkit.render_report``).
Renderer = Callable[[Referral], bytes]


def tracking_id(referral: Referral) -> str:
    """The ITK tracking id of one referral version: the same on every attempt, ever."""
    return str(uuid.uuid5(TRACKING_NAMESPACE, f"{referral.id}|{referral.version}")).upper()


class ItkSenderAdapter:
    """Declares ``REFERRAL`` (and what its ``bookings`` adapter declares, if one is set)."""

    def __init__(
        self,
        name: str,
        settings: ItkOptions,
        providers: dict[str, Provider],
        session: aiohttp.ClientSession,
        render: Renderer,
        *,
        listener: AckListener | None = None,
        bookings: SupplierAdapter | None = None,
    ) -> None:
        self.name = name
        self._settings = settings
        self._providers = providers
        self._session = session
        self._render = render
        self._listener = listener
        self._board = listener.board if listener is not None else AckBoard(name)
        self._bookings = bookings
        self._log_name = settings.log_name or name
        self._closed = False
        inner = bookings.capabilities if bookings is not None else frozenset()
        self.capabilities: frozenset[Capability] = inner | {Capability.REFERRAL}

    # -- referrals ---------------------------------------------------------------

    async def send_referral(self, referral: Referral, ctx: CallContext) -> None:
        async with self._guard("send_referral", ctx):
            provider = self._providers.get(referral.service_id)
            if provider is None:
                log.warning("mapping_missed", adapter=self._log_name, table="providers.csv",
                            service_id=referral.service_id)  # fmt: skip
                raise errors.MappingError("no ITK provider address is mapped for this service")
            tracking = tracking_id(referral)
            document = self._document(referral)
            awaited = self._settings.business_ack.mode == "await"
            posted = self._board.expect(tracking) if self._listener is not None else None
            try:
                answered = await self._deliver(document, provider, tracking, ctx, awaited)
                if answered is not None:
                    self._judge(answered, tracking)
                elif posted is not None:
                    await self._business_ack(posted, tracking, ctx)
                elif awaited:
                    log.warning("itk_business_ack_pending", adapter=self._log_name,
                                tracking_id=tracking)  # fmt: skip
            finally:
                if posted is not None:
                    self._board.forget(tracking, posted)
            if isinstance(self._bookings, ReferringAdapter) and (
                Capability.REFERRAL in self._bookings.capabilities
            ):
                # The booking side keeps referrals too (e.g. with their appointments).
                await self._bookings.send_referral(referral, ctx)
        log.info("itk_report_delivered", adapter=self._log_name, tracking_id=tracking,
                 referral_id=referral.id, version=referral.version)  # fmt: skip

    def _document(self, referral: Referral) -> bytes:
        """The referral's CDA: the one it arrived with, unchanged, or rendered from it."""
        try:
            return self._render(referral)
        except ValueError as exc:
            log.warning("itk_report_unrenderable", adapter=self._log_name,
                        referral_id=referral.id, error=type(exc).__name__)  # fmt: skip
            raise errors.BookingRejected(
                f"the referral cannot be sent as an NHS 111 report: {str(exc)[:200]}"
            ) from exc

    async def _deliver(
        self,
        document: bytes,
        provider: Provider,
        tracking: str,
        ctx: CallContext,
        business_ack: bool,
    ) -> BusinessOutcome | None:
        """Post the report until an infrastructure ack, resending with the same tracking id;
        the business ack when the receiver answered it synchronously."""
        settings = self._settings
        endpoint = provider.endpoint or settings.endpoint
        reply_to = self._listener.url if self._listener is not None else None
        attempt, arrived = 0, False
        while True:
            attempt += 1
            body = _wire.report(
                service=settings.service,
                tracking_id=tracking,
                addresses=provider.addresses,
                interaction=provider.interaction,
                sender=settings.sender_address,
                audit_identity=settings.audit_identity,
                username=settings.username,
                document=document,
                endpoint=endpoint,
                reply_to=reply_to,
                business_ack=business_ack,
            )
            out = _http.Outgoing(
                "POST", endpoint, _wire.headers(settings.service), body, resendable=True
            )
            try:
                reply = await _http.send(
                    self._session, out, ctx, settings.policy, operation="send_referral",
                    adapter=self._log_name,
                )  # fmt: skip
                return _wire.infrastructure_ack(reply, tracking, settings.max_body_bytes)
            except errors.AdapterError as exc:
                arrived = arrived or _resend.may_have_arrived(exc)
                retry = settings.retry
                pause = _resend.pause(retry.first_delay_s, retry.max_delay_s, attempt)
                if not exc.transient or attempt >= retry.attempts or not _resend.fits(ctx, pause):
                    raise _resend.final(exc, arrived) from exc
                log.info("itk_report_resent", adapter=self._log_name, tracking_id=tracking,
                         attempt=attempt, typed=type(exc).__name__)  # fmt: skip
                await asyncio.sleep(pause)

    async def _business_ack(
        self, ack: asyncio.Future[BusinessOutcome], tracking: str, ctx: CallContext
    ) -> None:
        wait = self._settings.business_ack.wait_s
        remaining = ctx.remaining()
        if remaining is not None:
            wait = min(wait, max(0.0, remaining - 0.05))
        try:
            outcome = await asyncio.wait_for(ack, wait)
        except TimeoutError:
            log.warning("itk_business_ack_pending", adapter=self._log_name, tracking_id=tracking)
            return
        self._judge(outcome, tracking)

    def _judge(self, outcome: BusinessOutcome, tracking: str) -> None:
        """A negative business ack is the provider's refusal of the referral."""
        if not outcome.accepted:
            log.warning("itk_business_nack_received", adapter=self._log_name,
                        tracking_id=tracking, code=outcome.code)  # fmt: skip
            raise errors.BookingRejected(
                "the provider's system refused the referral (negative business acknowledgement)",
                supplier_detail=f"business ack {outcome.code or 'negative'}",
            )

    # -- bookings: the inner adapter's, or not offered --------------------------

    def _inner(self, operation: str) -> SupplierAdapter:
        if self._bookings is None:
            raise errors.CapabilityNotSupported(
                f"{operation}: the ITK adapter '{self.name}' only delivers referrals"
            )
        return self._bookings

    async def search_slots(self, query: SlotQuery, ctx: CallContext) -> SlotSearchResult:
        return await self._inner("search_slots").search_slots(query, ctx)

    async def book(self, request: BookingRequest, ctx: CallContext) -> Booking:
        return await self._inner("book").book(request, ctx)

    async def get(
        self, supplier_ref: str, ctx: CallContext, *, service_id: str | None = None
    ) -> Booking:
        return await self._inner("get").get(supplier_ref, ctx, service_id=service_id)

    async def cancel(
        self, supplier_ref: str, ctx: CallContext, *, service_id: str | None = None
    ) -> Booking:
        return await self._inner("cancel").cancel(supplier_ref, ctx, service_id=service_id)

    def serves(self, service_id: str) -> bool:
        if service_id in self._providers:
            return True
        return self._bookings is not None and self._bookings.serves(service_id)

    async def health(self) -> Health:
        """The receiver's endpoint answers HTTP at all (ITK 2.2 has no ping service)."""
        if self._bookings is not None:
            inner = await self._bookings.health()
            if not inner.ok:
                return inner
        loop = asyncio.get_running_loop()
        started = loop.time()
        try:
            async with (
                asyncio.timeout(self._settings.connect_timeout_s + 1),
                self._session.get(self._settings.endpoint) as resp,
            ):
                await resp.read()
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            return Health(ok=False, detail=f"ITK endpoint unreachable ({type(exc).__name__})")
        return Health(ok=True, latency_ms=(loop.time() - started) * 1000)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        await self._session.close()
        if self._listener is not None:
            await self._listener.stop()
        if self._bookings is not None:
            await self._bookings.close()

    @asynccontextmanager
    async def _guard(self, operation: str, ctx: CallContext) -> AsyncIterator[None]:
        async with _http.guard(operation, ctx, closed=self._closed, adapter=self._log_name):
            yield
