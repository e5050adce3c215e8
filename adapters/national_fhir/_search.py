"""One slot search at a provider, following its pages (search_slots.md)."""

from __future__ import annotations

import uuid

from adapters.domain import CallContext, SlotQuery, SlotSearchResult
from adapters.national_fhir._appointment_out import instant
from adapters.national_fhir._outcomes import error_for, malformed
from adapters.national_fhir._slots_in import SlotReader, next_link
from adapters.national_fhir._wire import Call, Endpoint, Interaction, Wire

#: search_slots.md "_include parameters", beyond Slot:schedule (plus Schedule:actor:Location,
#: an allowed Schedule actor, schedule.md); a provider returns what it supports.
ITERATED_INCLUDES = (
    "Schedule:actor:Practitioner",
    "Schedule:actor:PractitionerRole",
    "Schedule:actor:HealthcareService",
    "Schedule:actor:Location",
    "HealthcareService:Organization",
    "HealthcareService:Location",
)


def slot_params(query: SlotQuery) -> list[tuple[str, str]]:
    """search_slots.md parameters; the service id under both names the pages use
    (the parameter table's ``service`` and the example's ``schedule.actor:healthcareservice``;
    a provider ignores the one it does not know, implementation_api.md)."""
    params = [
        ("service", query.service_id),
        ("schedule.actor:healthcareservice", query.service_id),
        ("status", ",".join(sorted(s.value for s in query.statuses))),
    ]
    if query.start_from is not None:
        params.append(("start", "ge" + instant(query.start_from)))
    if query.start_to is not None:
        params.append(("start", "le" + instant(query.start_to)))
    params.append(("_include", "Slot:schedule"))
    params += [("_include:iterate", include) for include in ITERATED_INCLUDES]
    return params


async def search(
    wire: Wire,
    endpoint: Endpoint,
    query: SlotQuery,
    ctx: CallContext,
    *,
    service_name: str | None,
    max_pages: int,
) -> SlotSearchResult:
    """The slots of ``query`` at ``endpoint``, reading at most ``max_pages`` Bundle pages."""
    reader = SlotReader(query, service_name)
    path, params = "/Slot", slot_params(query)
    for _ in range(max_pages):
        call = Call(
            "GET", endpoint, path, Interaction.SEARCH_SLOTS, str(uuid.uuid4()), query=params
        )
        reply = await wire.send(call, ctx)
        if reply.status != 200:
            raise error_for(Interaction.SEARCH_SLOTS, reply)
        if not _is_searchset(reply.body):
            raise malformed(Interaction.SEARCH_SLOTS, reply, "a searchset Bundle")
        reader.add_page(reply.body)
        following = next_link(reply.body)
        # search_slots.md: providers MAY page; only pages at the same provider are followed.
        if following is None or not following.startswith(endpoint.root + "/"):
            break
        path, params = following[len(endpoint.root) :], []
    return reader.result()


def _is_searchset(body: object) -> bool:
    """search_slots.md: the answer is a Bundle of type searchset; any other Bundle (a
    transaction, a collection, a history) is not search results, however Slot-like."""
    return (
        isinstance(body, dict)
        and body.get("resourceType") == "Bundle"
        and body.get("type") == "searchset"
    )
