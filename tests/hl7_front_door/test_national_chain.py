"""A legacy HL7 v2 consumer books into a national FHIR provider (DESIGN.md: HL7 v2 front
door + national FHIR adapter): legacy -> MLLP -> gateway -> national-fhir adapter ->
stub SSP -> a second gateway's FHIR provider side over the embedded demo diary."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from importlib.metadata import version as package_version
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from adapters.domain import BookingStatus
from adapters.hl7_toolkit import scheduling
from adapters.hl7_toolkit.header import Ack
from gateway.app import create_app
from gateway.config import load as load_config
from gateway.hl7 import HL7_FRONT_DOOR
from gateway.http.exchange import RUNTIME
from gateway.security.tokens import mint_token
from gateway.service import BookingService
from tests.hl7_front_door.conftest import SERVICE_ID, door_section
from tests.hl7_front_door.legacy import NHS_NUMBER, ZONE, Legacy, ack_of, appointment
from tests.national_fhir.conftest import (
    PROVIDER_ASID,
    adapter_options,
    provider_config,
    write_directory,
)
from tests.national_fhir.helpers import claims, outcome
from tests.national_fhir.stub_ssp import StubSsp
from tests.stores import store_yaml

Client = TestClient[web.Request, web.Application]
OTHER_SERVICE = "918999198888"


@dataclass
class Chain:
    legacy: Legacy
    ssp: StubSsp
    provider: Client
    consumer: Client
    consumer_config: Path
    consumer_port: int

    async def restart_consumer(self) -> None:
        """Stop the legacy system's gateway and start it again on the same store."""
        await self.legacy.close()
        await self.consumer.close()
        self.consumer = await _serve(self.consumer_config, self.consumer_port)
        self.legacy = _legacy(self.consumer)

    @property
    def provider_service(self) -> BookingService:
        runtime = self.provider.app[RUNTIME]  # type: ignore[index]
        assert runtime.current is not None
        service: BookingService = runtime.current.service
        return service


def consumer_config(tmp: Path, port: int, options: dict[str, object]) -> Path:
    """The legacy consumer's gateway: service 918999198999 routed to kind national-fhir."""
    text = f"""
server:
  host: 127.0.0.1
  port: {port}
  service_root: http://127.0.0.1:{port}/STU3/1/careconnect/appointment
store:
  {store_yaml(tmp / "consumer.sqlite3")}
adapters:
  - name: national
    kind: national-fhir
    options: {json.dumps(options)}
services:
  - id: "{SERVICE_ID}"
    adapter: national
{door_section()}"""
    path = tmp / "consumer.yaml"
    path.write_text(text, encoding="utf-8")
    return path


async def _serve(path: Path, port: int) -> Client:
    client = TestClient(
        TestServer(create_app(load_config(path), path), host="127.0.0.1", port=port)
    )
    await client.start_server()
    return client


def _legacy(consumer: Client) -> Legacy:
    host, port = consumer.app[HL7_FRONT_DOOR].address or ("", 0)  # type: ignore[index]
    return Legacy(host, port)


def _shared_asid_directory(tmp: Path, root: str) -> Path:
    """The demo service and a second one behind the same ASID and root, as the shipped
    mappings/national_fhir/directory.csv lists two services of one provider."""
    path = write_directory(tmp, root)
    with path.open("a", encoding="utf-8") as table:
        table.write(f"{OTHER_SERVICE},{PROVIDER_ASID},{root},Demo out-of-hours GP\n")
    return path


@pytest.fixture
async def chain(tmp_path: Path, unused_tcp_port_factory: Callable[[], int]) -> AsyncIterator[Chain]:
    """Provider gateway, stub SSP and consumer gateway with its HL7 door, all on 127.0.0.1."""
    provider_port, consumer_port = unused_tcp_port_factory(), unused_tcp_port_factory()
    provider = await _serve(provider_config(tmp_path, provider_port), provider_port)
    root = f"http://127.0.0.1:{provider_port}/STU3/1/careconnect/appointment"
    ssp = StubSsp(allowed=root)
    ssp_url = await ssp.start(unused_tcp_port_factory())
    options = adapter_options(ssp_url, _shared_asid_directory(tmp_path, root))
    config = consumer_config(tmp_path, consumer_port, options)
    consumer = await _serve(config, consumer_port)
    built = Chain(_legacy(consumer), ssp, provider, consumer, config, consumer_port)
    try:
        yield built
    finally:
        await built.legacy.close()
        await built.consumer.close()
        await ssp.close()
        await provider.close()


async def test_search_book_and_cancel_at_a_national_provider_over_hl7(chain: Chain) -> None:
    """SQR slots, SRR booking and SRR cancel come back; the provider holds the booking."""
    search = await chain.legacy.search()
    offers = [scheduling.read_group(g, ZONE) for g in scheduling.groups(search)]
    assert ack_of(search).code == "AA" and offers and offers[0].status == "Open"
    offer = (await chain.legacy.offers())[0]

    booked = await chain.legacy.book(offer)
    assert ack_of(booked).code == "AA", booked.to_er7()
    group = appointment(booked)
    assert group.status == "Booked" and group.filler_id
    held = await chain.provider_service.patient_appointments(NHS_NUMBER)
    assert len(held) == 1 and held[0].booking.status is BookingStatus.BOOKED
    assert (held[0].booking.start, held[0].booking.end) == (offer.start, offer.end)
    assert held[0].booked_by == "A1001", "the JWT named the legacy consumer's organisation"

    cancelled = await chain.legacy.cancel(group.filler_id)
    assert ack_of(cancelled).code == "AA" and appointment(cancelled).status == "Cancelled"
    held = await chain.provider_service.patient_appointments(NHS_NUMBER)
    assert held[0].booking.status is BookingStatus.CANCELLED

    assert chain.ssp.requests("GET", r"/Slot\?")
    assert len(chain.ssp.requests("POST", r"/Appointment$")) == 1
    assert chain.ssp.requests("PUT", r"/Appointment/")


async def test_the_jwt_names_the_legacy_system_and_the_gateways_model_and_version(
    chain: Chain,
) -> None:
    """fs_authentication.md: requesting_device has the sending application, model and version."""
    (offer,) = await chain.legacy.offers()
    assert ack_of(await chain.legacy.book(offer)).code == "AA"
    (post,) = chain.ssp.requests("POST", r"/Appointment$")
    device = claims(post)["requesting_device"]
    assert device["identifier"][0]["value"] == "CAS-APP", "MSH-3"
    assert device["model"] == "uec-gateway"
    assert device["version"] == package_version("uec-gateway")


async def test_cancel_after_the_gateway_restarts_reaches_the_right_service(chain: Chain) -> None:
    """Two directory rows share an ASID: the stored service lets a restarted gateway cancel."""
    (offer,) = await chain.legacy.offers()
    booked = appointment(await chain.legacy.book(offer))
    await chain.restart_consumer()
    cancelled = await chain.legacy.cancel(booked.filler_id)
    assert ack_of(cancelled).code == "AA", cancelled.to_er7()
    assert appointment(cancelled).status == "Cancelled"
    held = await chain.provider_service.patient_appointments(NHS_NUMBER)
    assert [v.booking.status for v in held] == [BookingStatus.CANCELLED]


async def test_duplicate_msh10_books_once_at_the_provider(chain: Chain) -> None:
    """A resent SRM^S01 answers the same SRR; the provider holds one appointment."""
    (offer,) = await chain.legacy.offers()
    message = chain.legacy.booking(offer)
    first = appointment(await chain.legacy.send(message))
    second = appointment(await chain.legacy.send(message))
    assert first.filler_id == second.filler_id
    assert len(await chain.provider_service.patient_appointments(NHS_NUMBER)) == 1
    assert len(chain.ssp.requests("POST", r"/Appointment$")) == 1


async def test_slot_taken_at_the_provider_is_ae_slot_not_free(chain: Chain) -> None:
    """The provider's 422 SLOT_NOT_FREE reaches the legacy consumer as AE SLOT_NOT_FREE."""
    (offer,) = await chain.legacy.offers()
    assert ack_of(await chain.legacy.book(offer)).code == "AA"
    answer = ack_of(await chain.legacy.book(offer))
    assert answer.code == "AE" and answer.errors[0].application_code == "SLOT_NOT_FREE"


@pytest.mark.parametrize("spine", [None, "SLOT_NOT_FREE"], ids=["in-words-only", "with-spine-code"])
async def test_provider_422_slot_no_longer_available_is_ae_slot_not_free(
    chain: Chain, spine: str | None
) -> None:
    """A provider 422 with code processing, "Slot no longer available", is AE SLOT_NOT_FREE."""
    (offer,) = await chain.legacy.offers()
    chain.ssp.inject(
        method="POST",
        path=r"/Appointment$",
        status=422,
        body=outcome("processing", spine, "Slot no longer available"),
    )
    answer = ack_of(await chain.legacy.book(offer))
    assert answer.code == "AE" and answer.errors[0].application_code == "SLOT_NOT_FREE"
    assert "transient" not in answer.errors[0].text


async def test_provider_down_is_ae_transient(chain: Chain) -> None:
    """The SSP answering 503 is AE SUPPLIER_UNAVAILABLE, marked transient."""
    chain.ssp.inject(method="GET", path="/Slot", status=503, times=5)
    answer = ack_of(await chain.legacy.search())
    assert answer.code == "AE"
    assert answer.errors[0].application_code == "SUPPLIER_UNAVAILABLE"
    assert "transient" in answer.errors[0].text


REFUSALS = [
    (403, outcome("forbidden", "ACCESS_DENIED")),
    (404, outcome("not-found", "NO_RECORD_FOUND")),
    (412, outcome("conflict", "PRECONDITION_FAILED")),
    (415, outcome("not-supported", "UNSUPPORTED_MEDIA_TYPE")),
]


def _refused(answer: Ack) -> None:
    """AR: do not resend unchanged; never the transient "may be resent later"."""
    assert answer.code == "AR", answer
    assert answer.errors[0].application_code == "SUPPLIER_REFUSED"
    assert "transient" not in answer.errors[0].text


@pytest.mark.parametrize(("status", "body"), REFUSALS, ids=[str(s) for s, _ in REFUSALS])
async def test_provider_4xx_to_a_booking_is_ar_do_not_resend(
    chain: Chain, status: int, body: bytes
) -> None:
    """book_an_appointment.md: a 4xx is not retried unchanged, so the legacy system gets AR."""
    (offer,) = await chain.legacy.offers()
    chain.ssp.inject(method="POST", path=r"/Appointment$", status=status, body=body)
    _refused(ack_of(await chain.legacy.book(offer)))
    assert not await chain.provider_service.patient_appointments(NHS_NUMBER)


@pytest.mark.parametrize(("status", "body"), [REFUSALS[0], REFUSALS[3]], ids=["403", "415"])
async def test_provider_4xx_to_a_search_is_ar_do_not_resend(
    chain: Chain, status: int, body: bytes
) -> None:
    """search_slots.md: a 4xx is not retried unchanged, so the legacy system gets AR."""
    chain.ssp.inject(method="GET", path=r"/Slot\?", status=status, body=body)
    _refused(ack_of(await chain.legacy.search()))


@pytest.mark.parametrize(("status", "body"), [REFUSALS[0], REFUSALS[2]], ids=["403", "412"])
async def test_provider_4xx_to_every_cancel_round_is_ar_do_not_resend(
    chain: Chain, status: int, body: bytes
) -> None:
    """cancel_an_appointment.md: a 403, or a 412 to every fresh version, is AR, not transient."""
    (offer,) = await chain.legacy.offers()
    booked = appointment(await chain.legacy.book(offer))
    chain.ssp.inject(method="PUT", path=r"/Appointment/", status=status, body=body, times=10)
    _refused(ack_of(await chain.legacy.cancel(booked.filler_id)))
    held = await chain.provider_service.patient_appointments(NHS_NUMBER)
    assert held[0].booking.status is BookingStatus.BOOKED


async def test_provider_4xx_reaches_a_fhir_consumer_as_a_non_transient_500(chain: Chain) -> None:
    """The same refusal through the FHIR door: 500 SUPPLIER_REFUSED, issue code not transient."""
    chain.ssp.inject(method="GET", path=r"/Slot\?", status=403, body=REFUSALS[0][1])
    root = f"http://127.0.0.1:{chain.consumer_port}/STU3/1/careconnect/appointment"
    token = mint_token(scope="organization/slot.read", audience=root)
    resp = await chain.consumer.get(
        f"/STU3/1/careconnect/appointment/Slot?service={SERVICE_ID}",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert resp.status == 500
    (issue,) = (await resp.json(content_type=None))["issue"]
    assert issue["code"] == "exception"
    assert issue["details"]["coding"][0]["code"] == "SUPPLIER_REFUSED"


async def test_reschedule_at_the_provider_books_new_then_cancels_old(chain: Chain) -> None:
    """SRM^S03 through the chain: the provider ends with the new booking and the old cancelled."""
    first, second = await chain.legacy.offers(2)
    old = appointment(await chain.legacy.book(first))
    moved = chain.legacy.booking(second, trigger="S03", appointment_id=old.filler_id)
    answer = await chain.legacy.send(moved)
    assert ack_of(answer).code == "AA", answer.to_er7()
    held = await chain.provider_service.patient_appointments(NHS_NUMBER)
    states = {v.booking.status.value: v.booking.start for v in held}
    assert states == {"cancelled": first.start, "booked": second.start}
    posts = chain.ssp.requests("POST", r"/Appointment$")
    puts = chain.ssp.requests("PUT", r"/Appointment/")
    assert len(posts) == 2 and len(puts) == 1
    assert chain.ssp.seen.index(posts[-1]) < chain.ssp.seen.index(puts[0]), "book, then cancel"
