"""The referral service over the real embedded diary and SQLite store."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from structlog.testing import capture_logs

from adapters.domain import ReferralStatus
from gateway._referral_claims import DuplicateReferral
from gateway.errors import ApiError, ErrorKind
from tests.contract.builders import FAMILY_NAME, NHS_NUMBER, POSTCODE, call_context
from tests.referrals._rig import SCOPE, book_one, new_referral
from tests.referrals.conftest import Rig


async def test_create_then_read_by_id_version_and_patient(rig: Rig) -> None:
    """A new referral is version 1, active, readable by id, by version and by NHS number."""
    referrals = rig.service.referrals
    made = await referrals.create(
        new_referral(), call_context(), scope=SCOPE, client_request_id=str(uuid.uuid4())
    )

    assert (made.version, made.referral.status) == (1, ReferralStatus.ACTIVE)
    assert made.referral.id != "new" and made.recorded_by == "A91547"
    assert await referrals.read(made.referral_id) == made
    assert await referrals.read(made.referral_id, 1) == made
    assert [v.referral_id for v in await referrals.for_patient(NHS_NUMBER)] == [made.referral_id]
    assert made.referral.triage is not None and made.referral.triage.disposition.code == "DX02"


async def test_unknown_referral_is_not_found(rig: Rig) -> None:
    """Reading a referral or version that does not exist is a 404, naming it."""
    with pytest.raises(ApiError) as caught:
        await rig.service.referrals.read("nope", 2)
    assert caught.value.kind is ErrorKind.NOT_FOUND
    assert "ServiceRequest/nope/_history/2" in caught.value.diagnostics


async def test_update_makes_a_new_version_and_checks_the_version_read(rig: Rig) -> None:
    """An update is version 2 with the new content; version 1 stays; a stale version is 409."""
    referrals = rig.service.referrals
    made = await referrals.create(
        new_referral(), call_context(), scope=SCOPE, client_request_id=None
    )

    changed = new_referral(summary="Bleeding has stopped", status=ReferralStatus.ON_HOLD)
    updated = await referrals.update(made.referral_id, 1, changed, call_context(), scope=SCOPE)

    assert (updated.version, updated.referral.status) == (2, ReferralStatus.ON_HOLD)
    assert updated.referral.clinical.summary == "Bleeding has stopped"
    assert (await referrals.read(made.referral_id, 1)).referral.clinical.summary == (
        made.referral.clinical.summary
    )
    with pytest.raises(ApiError) as stale:
        await referrals.update(made.referral_id, 1, changed, call_context(), scope=SCOPE)
    assert stale.value.kind is ErrorKind.VERSION_CONFLICT
    assert [v.version for v in await referrals.versions(made.referral_id)] == [1, 2]


async def test_an_update_cannot_move_the_referral_to_another_service(rig: Rig) -> None:
    """Changing the service a referral is for is refused (422); the referral is unchanged."""
    referrals = rig.service.referrals
    made = await referrals.create(
        new_referral(), call_context(), scope=SCOPE, client_request_id=None
    )
    elsewhere = new_referral(service_id="918999198888")
    with pytest.raises(ApiError) as caught:
        await referrals.update(made.referral_id, 1, elsewhere, call_context(), scope=SCOPE)
    assert caught.value.kind is ErrorKind.BUSINESS_RULE
    assert (await referrals.read(made.referral_id)).version == 1


async def test_revoke_is_final(rig: Rig) -> None:
    """Revoking makes a revoked version; revoking or updating it afterwards is 422."""
    referrals = rig.service.referrals
    made = await referrals.create(
        new_referral(), call_context(), scope=SCOPE, client_request_id=None
    )

    revoked = await referrals.revoke(made.referral_id, 1, call_context(), scope=SCOPE)

    assert (revoked.version, revoked.referral.status) == (2, ReferralStatus.REVOKED)
    assert revoked.referral.clinical == made.referral.clinical
    for attempt in (
        referrals.revoke(made.referral_id, 2, call_context(), scope=SCOPE),
        referrals.update(made.referral_id, 2, new_referral(), call_context(), scope=SCOPE),
    ):
        with pytest.raises(ApiError) as caught:
            await attempt
        assert caught.value.kind is ErrorKind.BUSINESS_RULE
    assert (await referrals.read(made.referral_id)).version == 2


async def test_a_new_referral_cannot_start_revoked(rig: Rig) -> None:
    """A referral sent already revoked is refused (422) and nothing is stored."""
    with pytest.raises(ApiError) as caught:
        await rig.service.referrals.create(
            new_referral(status=ReferralStatus.REVOKED),
            call_context(),
            scope=SCOPE,
            client_request_id=None,
        )
    assert caught.value.kind is ErrorKind.BUSINESS_RULE
    assert await rig.service.referrals.for_patient(NHS_NUMBER) == []


async def test_create_is_idempotent_on_the_request_id(rig: Rig) -> None:
    """A resent create names the first send's referral and stores nothing more."""
    referrals = rig.service.referrals
    request_id = str(uuid.uuid4())
    made = await referrals.create(
        new_referral(), call_context(), scope=SCOPE, client_request_id=request_id
    )

    with pytest.raises(DuplicateReferral) as same:
        await referrals.create(
            new_referral(), call_context(), scope=SCOPE, client_request_id=request_id
        )
    with pytest.raises(DuplicateReferral) as other:
        await referrals.create(
            new_referral(summary="something else"),
            call_context(),
            scope=SCOPE,
            client_request_id=request_id,
        )

    assert (same.value.replay.referral_id, same.value.replay.version) == (made.referral_id, 1)
    assert same.value.replay.same_body and not other.value.replay.same_body
    assert len(await referrals.for_patient(NHS_NUMBER)) == 1


async def test_a_request_id_used_for_a_booking_does_not_block_a_referral(rig: Rig) -> None:
    """Referral keys have their own ledger scope: a booking's X-Request-ID is no referral's."""
    request_id = str(uuid.uuid4())
    await rig.service.store.claim_request(SCOPE, request_id, "h", rig.clock.now, 5.0)
    made = await rig.service.referrals.create(
        new_referral(), call_context(), scope=SCOPE, client_request_id=request_id
    )
    assert made.version == 1


async def test_concurrent_creates_with_one_request_id_store_one_referral(rig: Rig) -> None:
    """Ten concurrent sends of one create: one referral; the others are told of it or to wait."""
    referrals = rig.service.referrals
    request_id = str(uuid.uuid4())
    results = await asyncio.gather(
        *(
            referrals.create(
                new_referral(), call_context(), scope=SCOPE, client_request_id=request_id
            )
            for _ in range(10)
        ),
        return_exceptions=True,
    )
    made = [r for r in results if not isinstance(r, BaseException)]
    assert len(made) == 1
    for r in results:
        if isinstance(r, ApiError):
            assert r.kind is ErrorKind.REQUEST_IN_PROGRESS
        elif isinstance(r, BaseException):
            assert isinstance(r, DuplicateReferral)
    assert len(await referrals.for_patient(NHS_NUMBER)) == 1


async def test_concurrent_updates_of_one_version_exactly_one_wins(rig: Rig) -> None:
    """Five concurrent updates of version 1: one makes version 2, the rest are 409."""
    referrals = rig.service.referrals
    made = await referrals.create(
        new_referral(), call_context(), scope=SCOPE, client_request_id=None
    )
    results = await asyncio.gather(
        *(
            referrals.update(
                made.referral_id, 1, new_referral(summary=f"s{n}"), call_context(), scope=SCOPE
            )
            for n in range(5)
        ),
        return_exceptions=True,
    )
    assert sum(not isinstance(r, BaseException) for r in results) == 1
    assert all(r.kind is ErrorKind.VERSION_CONFLICT for r in results if isinstance(r, ApiError))
    assert [v.version for v in await referrals.versions(made.referral_id)] == [1, 2]


async def test_booking_first_then_a_referral_naming_it(rig: Rig) -> None:
    """A referral naming an existing appointment is linked; the appointment lists it."""
    appointment = await book_one(rig.service, rig.clock)
    made = await rig.service.referrals.create(
        new_referral(appointment_id=appointment.appointment_id),
        call_context(),
        scope=SCOPE,
        client_request_id=None,
    )
    assert made.referral.appointment_id == appointment.appointment_id
    linked = await rig.service.referrals.for_appointment(appointment.appointment_id)
    assert [v.referral_id for v in linked] == [made.referral_id]


async def test_a_referral_naming_an_unknown_appointment_is_refused(rig: Rig) -> None:
    """A referral naming an appointment that does not exist is 422 and is not stored."""
    with pytest.raises(ApiError) as caught:
        await rig.service.referrals.create(
            new_referral(appointment_id="no-such-appointment"),
            call_context(),
            scope=SCOPE,
            client_request_id=None,
        )
    assert caught.value.kind is ErrorKind.REFERENCE_NOT_FOUND
    assert await rig.service.referrals.for_patient(NHS_NUMBER) == []


@pytest.mark.parametrize("form", ["ServiceRequest/{}", "urn:uuid:{}", "{}"])
async def test_referral_first_then_a_booking_naming_it(rig: Rig, form: str) -> None:
    """A booking whose referral reference names a stored referral links it as version 2."""
    referrals = rig.service.referrals
    made = await referrals.create(
        new_referral(), call_context(), scope=SCOPE, client_request_id=None
    )

    appointment = await book_one(
        rig.service, rig.clock, referral_reference=form.format(made.referral_id)
    )

    current = await referrals.read(made.referral_id)
    assert (current.version, current.referral.appointment_id) == (2, appointment.appointment_id)
    assert current.referral.clinical == made.referral.clinical
    linked = await referrals.for_appointment(appointment.appointment_id)
    assert [v.referral_id for v in linked] == [made.referral_id]


async def test_booking_with_a_document_then_a_referral_for_that_document(rig: Rig) -> None:
    """STU3: a booking's contained DocumentReference links a later referral for that document."""
    document_id = str(uuid.uuid4())
    appointment = await book_one(rig.service, rig.clock, document_id=document_id)

    made = await rig.service.referrals.create(
        new_referral(document_id=document_id), call_context(), scope=SCOPE, client_request_id=None
    )

    assert made.referral.appointment_id == appointment.appointment_id


async def test_referral_with_a_document_then_a_booking_carrying_it(rig: Rig) -> None:
    """A referral for a document is linked when a booking carrying that document is made."""
    document_id = str(uuid.uuid4())
    referrals = rig.service.referrals
    made = await referrals.create(
        new_referral(document_id=document_id), call_context(), scope=SCOPE, client_request_id=None
    )
    assert made.referral.appointment_id is None

    appointment = await book_one(rig.service, rig.clock, document_id=document_id)

    current = await referrals.read(made.referral_id)
    assert current.referral.appointment_id == appointment.appointment_id


async def test_a_revoked_referral_is_not_linked_to_a_later_booking(rig: Rig) -> None:
    """A booking naming a revoked referral books, and leaves the referral as it was."""
    referrals = rig.service.referrals
    made = await referrals.create(
        new_referral(), call_context(), scope=SCOPE, client_request_id=None
    )
    await referrals.revoke(made.referral_id, 1, call_context(), scope=SCOPE)

    appointment = await book_one(rig.service, rig.clock, referral_reference=made.referral_id)

    assert appointment.version == 1
    current = await referrals.read(made.referral_id)
    assert (current.version, current.referral.appointment_id) == (2, None)


async def test_the_referral_capability_hook_gets_every_version(referring: Rig) -> None:
    """An adapter declaring REFERRAL receives the new referral, its update and its revoke."""
    assert referring.inbox is not None
    referrals = referring.service.referrals
    ctx = call_context()
    made = await referrals.create(new_referral(), ctx, scope=SCOPE, client_request_id="r-1")
    await referrals.update(
        made.referral_id, 1, new_referral(summary="u"), call_context(), scope=SCOPE
    )
    await referrals.revoke(made.referral_id, 2, call_context(), scope=SCOPE)

    sent = [(r.id, r.version, r.status) for r, _ in referring.inbox.received]
    assert sent == [
        (made.referral_id, 1, ReferralStatus.ACTIVE),
        (made.referral_id, 2, ReferralStatus.ACTIVE),
        (made.referral_id, 3, ReferralStatus.REVOKED),
    ]
    assert referring.inbox.received[0][1] == ctx.request_id


async def test_a_refused_referral_is_not_stored_and_can_be_resent(referring: Rig) -> None:
    """When the supplier refuses a referral nothing is stored; a resend with the same id works."""
    assert referring.inbox is not None
    referrals = referring.service.referrals
    referring.inbox.refuse = True
    with pytest.raises(ApiError) as caught:
        await referrals.create(new_referral(), call_context(), scope=SCOPE, client_request_id="r-2")
    assert caught.value.kind is ErrorKind.SUPPLIER_UNAVAILABLE
    assert await referrals.for_patient(NHS_NUMBER) == []

    referring.inbox.refuse = False
    made = await referrals.create(
        new_referral(), call_context(), scope=SCOPE, client_request_id="r-2"
    )
    assert made.version == 1 and len(referring.inbox.received) == 1


async def test_referral_work_logs_no_patient_data(rig: Rig) -> None:
    """Creating, linking, updating and revoking referrals logs ids, never the patient."""
    referrals = rig.service.referrals
    with capture_logs() as logs:
        made = await referrals.create(
            new_referral(), call_context(), scope=SCOPE, client_request_id="r-3"
        )
        await book_one(rig.service, rig.clock, referral_reference=made.referral_id)
        await referrals.update(made.referral_id, 2, new_referral(), call_context(), scope=SCOPE)
        await referrals.revoke(made.referral_id, 3, call_context(), scope=SCOPE)
    text = repr(logs)
    assert "referral_created" in text and "referral_linked" in text
    for secret in (NHS_NUMBER, FAMILY_NAME, POSTCODE, "Nosebleed"):
        assert secret not in text


async def test_a_rebooking_naming_the_referral_moves_its_link(rig: Rig) -> None:
    """A referral linked to one booking follows a later booking that names it."""
    referrals = rig.service.referrals
    first = await book_one(rig.service, rig.clock)
    made = await referrals.create(
        new_referral(appointment_id=first.appointment_id),
        call_context(),
        scope=SCOPE,
        client_request_id=None,
    )

    second = await book_one(rig.service, rig.clock, referral_reference=made.referral_id)

    current = await referrals.read(made.referral_id)
    assert (current.version, current.referral.appointment_id) == (2, second.appointment_id)
    assert await referrals.for_appointment(first.appointment_id) == []
