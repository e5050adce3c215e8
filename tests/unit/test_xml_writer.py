"""The text FHIR XML writer against the lxml-tree writer it replaced: same bytes, same errors.

``_tree_xml`` below is that previous writer (an lxml tree per resource, then
``etree.tostring``), kept here only as the reference the text writer must match
byte for byte, on every kind of resource the gateway renders and on the
escaping and ``_name`` corners of xml.html (http://hl7.org/fhir/STU3/xml.html).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from fhir.resources.STU3 import get_fhir_model_class
from hypothesis import given
from hypothesis import strategies as st
from lxml import etree

from adapters.domain import (
    Address,
    Booking,
    BookingStatus,
    Coding,
    ContactPoint,
    DeliveryChannel,
    Gender,
    HealthcareService,
    HumanName,
    Identifier,
    Location,
    Organisation,
    Patient,
    Practitioner,
    PractitionerRole,
    Schedule,
    Slot,
    SlotSearchResult,
    SlotStatus,
    SupportingDocument,
)
from gateway.errors import ApiError, ErrorKind
from gateway.fhir import bundle, render
from gateway.fhir._xml import FHIR_NS, _element_model, _plan, _text, to_xml, xml_safe
from gateway.fhir.outcome import operation_outcome

XHTML_NS = "http://www.w3.org/1999/xhtml"
NOW = datetime(2026, 3, 29, 0, 30, tzinfo=UTC)  # the night the clocks change


# --- the previous writer: an lxml tree, then etree.tostring ---------------------------------


def _tree_resource(parent: etree._Element | None, data: Mapping[str, Any]) -> etree._Element:
    kind = str(data["resourceType"])
    model = get_fhir_model_class(kind)
    tag = f"{{{FHIR_NS}}}{kind}"
    if parent is None:
        node = etree.Element(tag, nsmap={None: FHIR_NS})  # type: ignore[dict-item]
    else:
        node = etree.SubElement(parent, tag)
    _tree_children(node, data, model, is_resource=True)
    return node


def _tree_children(
    node: etree._Element, data: Mapping[str, Any], model: type[Any], is_resource: bool
) -> None:
    plan = _plan(model)
    names: list[tuple[int, str]] = []
    for key in data:
        if key in ("resourceType", "fhir_comments"):
            continue
        name = key[1:] if key.startswith("_") else key
        child = plan.get(name)
        if child is None:
            raise ValueError(f"'{key}' is not an element of {model.__name__}")
        if not is_resource and (name == "id" or (name == "url" and model.__name__ == "Extension")):
            node.set(name, _text(data[key]))
        elif key == name or name not in data:
            names.append((child.order, name))
    for _, name in sorted(names):
        _tree_element(node, name, plan[name], data.get(name), data.get("_" + name))


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _tree_element(node: etree._Element, name: str, child: Any, value: Any, extra: Any) -> None:
    kind = child.kind
    if kind == "primitive":
        values = _as_list(value) if value is not None else [None] * len(_as_list(extra))
        extras = _as_list(extra) if extra is not None else [None] * len(values)
        for item, more in zip(values, extras, strict=False):
            if item is None and not more:
                continue
            sub = etree.SubElement(node, f"{{{FHIR_NS}}}{name}")
            if more:
                _tree_children(sub, more, _element_model(), is_resource=False)
            if item is not None:
                sub.set("value", _text(item))
        return
    for item in _as_list(value):
        if kind == "xhtml":
            parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
            div = etree.fromstring(xml_safe(str(item)).encode("utf-8"), parser=parser)
            if etree.QName(div).namespace != XHTML_NS:
                raise ValueError("Narrative.div must be XHTML")
            node.append(div)
            continue
        if not isinstance(item, Mapping):
            raise ValueError(f"'{name}' must be an object, not {type(item).__name__}")
        sub = etree.SubElement(node, f"{{{FHIR_NS}}}{name}")
        if kind == "resource":
            _tree_resource(sub, item)
        elif child.model is not None:
            _tree_children(sub, item, child.model, is_resource=False)


def _tree_xml(resource: Mapping[str, Any]) -> bytes:
    root = _tree_resource(None, resource)
    return bytes(etree.tostring(root, xml_declaration=True, encoding="utf-8"))


# --- the resources ---------------------------------------------------------------------------


def _same(resource: Mapping[str, Any]) -> bytes:
    """The text writer's bytes, after checking they are the tree writer's and read back as XML."""
    written = to_xml(resource)
    assert written == _tree_xml(resource)
    root = etree.fromstring(written)
    assert etree.QName(root).namespace == FHIR_NS
    assert etree.QName(root).localname == resource["resourceType"]
    return written


def _address() -> Address:
    return Address(lines=("1 Trevelyan Square", "Boar Lane"), city="Leeds", postcode="LS1 6AE")


def _search_result() -> SlotSearchResult:
    def slot(i: int) -> Slot:
        return Slot(
            id=f"slot-{i}",
            schedule_id=f"sched-{i % 2}",
            identifier=f"00000000-0000-4000-8000-{i:012d}",
            status=SlotStatus.FREE,
            start=NOW + timedelta(minutes=10 * i),
            end=NOW + timedelta(minutes=10 * i + 10),
            delivery_channel=list(DeliveryChannel)[i % 3] if i % 4 else None,
        )

    telecom = (ContactPoint(system="phone", value="0113 000 0000", use="work", rank=1),)
    return SlotSearchResult(
        slots=tuple(slot(i) for i in range(6)),
        schedules={
            f"sched-{n}": Schedule(
                id=f"sched-{n}",
                service_id="svc",
                practitioner_id="prac",
                practitioner_role_id="role",
                location_id=f"loc-{n}",
                identifier=Identifier(system="urn:schedules", value=f"S{n}"),
            )
            for n in range(2)
        },
        services={
            "svc": HealthcareService(
                id="svc",
                name="Urgent Treatment Centre & Walk-in <Leeds>",
                organisation_id="org",
                location_id="loc-9",
                local_identifier=Identifier(system="urn:services", value="918999198999"),
            )
        },
        practitioners={
            "prac": Practitioner(
                id="prac",
                name=HumanName(family="O'Brien", given=("Siân", "Ann"), prefix=("Dr",)),
                gender=Gender.FEMALE,
                identifiers=(
                    Identifier(system="https://fhir.hl7.org.uk/Id/gmc-number", value="C1"),
                ),
            )
        },
        roles={
            "role": PractitionerRole(
                id="role",
                practitioner_id="prac",
                organisation_id="org",
                role_code="R0260",
                role_display='General "Medical" Practitioner',
            )
        },
        locations={
            f"loc-{n}": Location(
                id=f"loc-{n}", name=f"Room {n}", address=_address(), managing_organisation_id="org"
            )
            for n in (0, 1, 9)
        },
        organisations={
            "org": Organisation(
                id="org", ods_code="RR8", name="Leeds Teaching Hospitals", telecom=telecom
            )
        },
    )


def _appointment(document: bool) -> dict[str, Any]:
    result = _search_result()
    patient = Patient(
        nhs_number="9476719931",
        nhs_number_verification="01",
        name=HumanName(family="Chalmers", given=("Peter", "James"), use="official"),
        gender=Gender.MALE,
        birth_date=date(1974, 12, 25),
        address=_address(),
        telecom=(ContactPoint(system="phone", value="0113 496 0000", use="home"),),
    )
    booking = Booking(
        supplier_ref="ref-1",
        status=BookingStatus.BOOKED,
        slot=result.slots[0],
        service_id="svc",
        start=result.slots[0].start,
        end=result.slots[0].end,
        description="Chest pain\nsince Tuesday\t(worse at night) & <breathless>",
        patient=patient,
        document=(
            SupportingDocument(
                identifier="11111111-2222-4333-8444-555555555555",
                type_system="http://snomed.info/sct",
                type_code="820291000000107",
                type_display="Infectious disease notification",
                content_type="application/hl7-v3+xml",
                language="en",
                indexed=NOW,
            )
            if document
            else None
        ),
        referral_reference="ReferralRequest/r-1" if document else None,
        created=NOW,
        reason=(Coding(system="https://nhs.uk/pathways", code="DX02", display="Chest pain"),),
    )
    return render.appointment(booking, appointment_id="appt-1", version=3, last_modified=NOW)


def test_a_slot_bundle_with_every_include_is_written_as_before() -> None:
    """A searchset with each slot's schedule and every _include the gateway knows: same bytes."""
    found = bundle.slot_bundle(
        _search_result(),
        sorted(bundle.KNOWN_INCLUDES),
        base="https://gateway.example/fhir",
        self_url="https://gateway.example/fhir/Slot?_include=*&status=free",
        now=NOW,
        next_url="https://gateway.example/fhir/Slot?page=2&status=free",
    )
    kinds = {entry["resource"]["resourceType"] for entry in found["entry"]}
    assert kinds >= {"Slot", "Schedule", "HealthcareService", "Location", "Organization"}
    assert kinds >= {"Practitioner", "PractitionerRole"}
    written = _same(found)
    assert b'<url value="https://gateway.example/fhir/Slot?_include=*&amp;status=free"/>' in written


@pytest.mark.parametrize("document", [True, False])
def test_an_appointment_with_contained_resources_is_written_as_before(document: bool) -> None:
    """An Appointment with contained Patient, Slot, DocumentReference and extensions: same bytes."""
    resource = _appointment(document)
    written = _same(resource)
    assert written.count(b"<contained>") == (3 if document else 2)
    assert b'<extension url="https://fhir.hl7.org.uk/STU3/StructureDefinition/' in written
    assert b"since Tuesday&#9;(worse at night) &amp; &lt;breathless&gt;" in written


def test_a_bundle_of_appointments_is_written_as_before() -> None:
    """A patient's appointments (a searchset of whole Appointments): same bytes."""
    entries = [
        {"fullUrl": f"https://x/Appointment/a{i}", "resource": _appointment(i % 2 == 0)}
        for i in range(3)
    ]
    _same(bundle.searchset("https://x/Appointment?patient=1", entries, NOW))


def test_an_outcome_with_control_characters_is_written_as_before() -> None:
    """An OperationOutcome echoing controls, markup, quotes and lone surrogates: same bytes."""
    outcome = operation_outcome(ApiError(ErrorKind.BAD_REQUEST, "x"), outcome_id="o-1")
    nasty = "no service '\x00\x01\x08\x0b\x0c\x1f\x7f\x85\ud800\udfff\ufffe\uffff' & <b> \"q\""
    outcome["issue"][0]["diagnostics"] = nasty + " tab\there\r\nnew line ]]> \U0001f600 \u2028"
    outcome["issue"][0]["expression"] = ["Slot.start", "a\x02b", ""]
    written = _same(outcome)
    assert b"&#13;&#10;new line ]]&gt;" in written and "\ufffd".encode() in written


def test_a_bundle_with_a_narrative_is_written_as_before() -> None:
    """Narrative divs with references, comments, CDATA and non-ASCII, in a Bundle: same bytes."""
    divs = [
        f'<div xmlns="{XHTML_NS}"><p class="a&amp;b" title="x&#10;y">Siân &amp; &lt;Co&gt; &#233;'
        "</p><!-- note --><?pi data?><br/>\r\n\ttail</div>",
        f'<?xml version="1.0"?><div xmlns="{XHTML_NS}"><![CDATA[a < b]]>\x01</div>',
        f'<h:div xmlns:h="{XHTML_NS}"><h:p xml:lang="cy">Bore da</h:p></h:div>',
        f'<div xmlns="{XHTML_NS}"/>',
    ]
    entries = [
        {
            "resource": {
                "resourceType": "Patient",
                "id": f"p{i}",
                "text": {"status": "generated", "div": d},
            }
        }
        for i, d in enumerate(divs)
    ]
    _same({"resourceType": "Bundle", "type": "collection", "entry": entries})


def test_primitive_ids_and_extensions_are_written_as_before() -> None:
    """``_name`` ids and extensions, nulls in lists, element ids and extension urls: same bytes."""
    flag = {"url": "urn:flag", "valueBoolean": True}
    _same(
        {
            "resourceType": "Patient",
            "id": "p",
            "extension": [{"url": "urn:e&x", "id": "e1", "valueDecimal": 1.5}],
            "active": False,
            "name": [
                {
                    "id": "n1",
                    "given": ["A", None, "C"],
                    "_given": [None, {"id": "g2", "extension": [flag]}, {"id": "g3"}],
                    "_family": {"extension": [flag]},
                }
            ],
            "birthDate": "1974-12-25",
            "_birthDate": {"id": "b", "extension": [{"url": "urn:time", "valueTime": "12:00:00"}]},
            "multipleBirthInteger": 2,
            "photo": [{}],
            "contact": [{"name": {"extension": []}}],
            "fhir_comments": ["not written"],
        }
    )


def test_a_fhir_element_inside_a_narrative_keeps_its_namespace() -> None:
    """A div that declares the FHIR namespace itself keeps it (the tree writer lost it)."""
    div = f'<div xmlns="{XHTML_NS}" xmlns:f="{FHIR_NS}"><f:x/><p/></div>'
    written = to_xml({"resourceType": "Patient", "text": {"status": "generated", "div": div}})
    tags = [e.tag for e in etree.fromstring(written).iter()]
    assert tags[-3:] == [f"{{{XHTML_NS}}}div", f"{{{FHIR_NS}}}x", f"{{{XHTML_NS}}}p"]


def test_a_narrative_with_entities_of_its_own_dtd_is_refused() -> None:
    """A div using its DTD's entities is refused (the tree writer wrote XML that does not parse)."""
    div = f'<!DOCTYPE div [<!ENTITY e "zz">]><div xmlns="{XHTML_NS}">&e;</div>'
    resource = {"resourceType": "Patient", "text": {"status": "generated", "div": div}}
    with pytest.raises(etree.XMLSyntaxError):
        etree.fromstring(_tree_xml(resource))
    with pytest.raises(ValueError, match="must not refer to entities"):
        to_xml(resource)
    # Without entities, a DOCTYPE is simply not written, as before.
    resource["text"]["div"] = f'<!DOCTYPE div><div xmlns="{XHTML_NS}">&#233;</div>'
    assert b"DOCTYPE" not in _same(resource)


def _failure(write: Any, resource: Any) -> tuple[str, str]:
    with pytest.raises(Exception) as caught:
        write(resource)
    return type(caught.value).__name__, str(caught.value)


@pytest.mark.parametrize(
    "resource",
    [
        {"resourceType": "Slot", "id": "s", "bogus": 1},
        {"resourceType": "Slot", "identifier": [{"value": "v", "_bogus": 1}]},
        {"resourceType": "Patient", "name": [{"id": {"x": 1}}]},
        {"resourceType": "Patient", "name": "Smith"},
        {"resourceType": "Patient", "birthDate": ["1974"], "_birthDate": ["id", "bogus"]},
        {"resourceType": "Bundle", "entry": [{"resource": None}]},
        {"resourceType": "NotAResource"},
        {"resourceType": "Patient", "text": {"div": "<p>not xhtml</p>"}},
        {"resourceType": "Patient", "text": {"div": "<div"}},
    ],
)
def test_what_cannot_be_written_fails_as_before(resource: dict[str, Any]) -> None:
    """A key that is no element is a ValueError as before; every other refusal is unchanged too."""
    assert _failure(to_xml, resource) == _failure(_tree_xml, resource)


def test_an_unknown_key_is_a_value_error() -> None:
    """Callers rely on a key that is not an element raising ValueError, naming key and model."""
    with pytest.raises(ValueError, match="'bogus' is not an element of Slot"):
        to_xml({"resourceType": "Slot", "bogus": 1})


any_text = st.text(
    st.one_of(
        st.characters(codec="utf-8"),
        st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF),
        st.sampled_from(list("\x00\x01\t\n\r\x7f&<>\"'\ufffe\uffff")),
    ),
    max_size=20,
)


@given(text=any_text)
def test_any_text_in_any_attribute_is_written_as_before(text: str) -> None:
    """Whatever text a value, an element id or an extension url holds: the same bytes."""
    _same(
        {
            "resourceType": "OperationOutcome",
            "id": text,
            "extension": [{"url": text, "valueString": text}],
            "issue": [{"id": text, "severity": "error", "code": "invalid", "diagnostics": text}],
        }
    )
