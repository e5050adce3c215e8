"""The embedded diary keeps each referral version it is offered, found with its booking."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from adapters.embedded import EmbeddedAdapter
from adapters.errors import ServiceNotFound
from tests.contract.builders import booking_request, call_context
from tests.embedded.helpers import UTC_SERVICE, Clock, first_free, open_diary
from tests.embedded.pg import Where, raw
from tests.referrals._rig import new_referral


@pytest_asyncio.fixture
async def diary(where: Where) -> AsyncIterator[EmbeddedAdapter]:
    adapter = await open_diary(where, Clock())
    yield adapter
    await adapter.close()


async def test_a_referral_is_found_with_the_booking_carrying_its_document(
    diary: EmbeddedAdapter,
) -> None:
    """A booking's document id finds the referral sent for it; the latest version is read."""
    request = booking_request(await first_free(diary))
    booking = await diary.book(request, call_context())
    assert request.document is not None
    first = new_referral(document_id=request.document.identifier).model_copy(update={"id": "r1"})
    await diary.send_referral(first, call_context())
    second = first.model_copy(update={"version": 2, "reason_text": "worse"})
    await diary.send_referral(second, call_context())
    assert await diary.referrals_for(booking.supplier_ref) == [second]
    assert await diary.referral("r1") == second and await diary.referral("r2") is None


async def test_a_resent_version_is_kept_once_and_other_services_are_refused(
    diary: EmbeddedAdapter, where: Where
) -> None:
    """The same version sent twice is one row; a service the diary lacks is ServiceNotFound."""
    referral = new_referral(service_id=UTC_SERVICE).model_copy(update={"id": "r1"})
    await diary.send_referral(referral, call_context())
    await diary.send_referral(referral, call_context())
    assert await diary.referral("r1") == referral
    assert await raw(where, "SELECT COUNT(*) FROM referrals") == [(1,)]
    with pytest.raises(ServiceNotFound):
        await diary.send_referral(referral.model_copy(update={"service_id": "1"}), call_context())
