"""One legacy message's call: who sent it, its idempotency scope, context and audit.

- Scope ``hl7:<MSH-3>^<MSH-4>``: MSH-10 is unique per sending application and
  facility (HL7 v2.5 chapter 2.14.9.10), so that pair owns the ledger entries.
- The CallContext's request id is the booking service's ``idempotency_key``
  of scope + MSH-10 (DESIGN.md: "the legacy MSH-10 travels in the call context
  all the way out"); the organisation is the configured ODS code of MSH-4, the
  device is MSH-3 as identified by this gateway (model and version: this
  gateway's, the product that makes the request; fs_authentication.md SHALL
  populate both), the deadline the configured time budget.

Audit rows hold only what was validated or a hash (no patient data, STYLE.md):
MSH-9 as sent only when it is a message this door handles, a service id only
when it is routed, MSH-3 and MSH-10 only when shaped like a machine id with no
NHS number in them (``adapters.hl7_toolkit.loggable.loggable_id``).
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field

from adapters.domain import (
    CallContext,
    Identifier,
    RequestingDevice,
    RequestingOrganisation,
    utcnow,
)
from adapters.hl7_toolkit.loggable import fingerprint, loggable_id
from gateway import release
from gateway.audit import AuditTrail
from gateway.config import Hl7ConsumerSettings, Hl7FrontDoorSettings
from gateway.hl7.inbound import Envelope
from gateway.hl7.render import Reply
from gateway.hl7.tables import Tables
from gateway.policy import scope as policy_scope
from gateway.runtime import Generation
from gateway.service import BookingService, idempotency_key
from gateway.store import AuditEntry

FRONT_DOOR = "hl7v2"


@dataclass
class Call:
    envelope: Envelope
    generation: Generation
    settings: Hl7FrontDoorSettings
    tables: Tables
    reply: Reply
    consumer: Hl7ConsumerSettings | None
    audit_trail: AuditTrail
    #: MSH-9 as audited and logged: the message type if this door handles it, else a hash.
    method: str = ""
    server_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    deadline: float = 0.0
    #: What the call was about so far (for the error's audit entry).
    interaction: str = "unknown"
    service_id: str | None = None
    appointment_id: str | None = None

    def __post_init__(self) -> None:
        self.deadline = time.monotonic() + self.settings.time_budget_s

    @property
    def service(self) -> BookingService:
        return self.generation.service

    @property
    def scope(self) -> str:
        return f"hl7:{self.envelope.application}^{self.envelope.facility}"

    def request_id(self, step: str = "") -> str:
        """The ledger's client request id: MSH-10, plus the step of a two-step message."""
        return self.envelope.control_id + step

    def booking_only(self, service_id: str | None) -> bool:
        route = self.generation.router.services.get(service_id or "")
        return route is not None and route.booking_only

    def _audited_service(self, service_id: str | None) -> str | None:
        # An unrouted code is what the sender typed in QRF-1/AIS-3: never trusted as is.
        if service_id is None or service_id in self.generation.router.services:
            return service_id
        return loggable_id(service_id)

    def context(self, step: str = "") -> CallContext:
        consumer = self.consumer
        root = self.generation.settings.server.service_root
        return CallContext(
            request_id=idempotency_key(self.scope, self.request_id(step)),
            correlation_id=self.envelope.control_id,
            deadline=self.deadline,
            organisation=RequestingOrganisation(ods_code=consumer.ods_code, name=consumer.name)
            if consumer
            else None,
            device=RequestingDevice(
                identifier=Identifier(
                    system=f"{root}/Id/hl7v2-sending-application",
                    value=self.envelope.application,
                ),
                model=release.PRODUCT,
                version=release.version(),
            ),
        )

    def audit(
        self,
        interaction: str,
        status: int,
        *,
        service_id: str | None,
        outcome: str | None = None,
        appointment_id: str | None = None,
        slot_count: int | None = None,
    ) -> None:
        """One audit entry (fs_reporting.md); statuses are the FHIR door's, so reports add up."""
        consumer = self.consumer
        self.audit_trail.record(
            AuditEntry(
                at=utcnow(),
                interaction=interaction,
                method=self.method or fingerprint(self.envelope.kind),
                path=f"mllp:{self.settings.facility}",
                status=status,
                request_id=self.server_request_id,
                correlation_id=loggable_id(self.envelope.control_id),
                organisation_ods=consumer.ods_code if consumer else None,
                organisation_name=consumer.name if consumer else None,
                device_id=loggable_id(self.envelope.application),
                appointment_id=appointment_id,
                outcome=outcome,
                service_id=self._audited_service(service_id),
                slot_count=slot_count,
                front_door=FRONT_DOOR,
                **policy_scope.audit_fields(),
            )
        )
