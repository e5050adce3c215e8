"""FHIR JSON -> FHIR XML, written directly with lxml (http://hl7.org/fhir/STU3/xml.html).

The general converter in ``fhir.resources`` validates the whole resource again and
looks up every element's type on every element; for a slot Bundle that is ~70x the
cost of JSON. This writer walks the JSON we rendered once, using each model's
element order and child types from a per-class plan computed once, so XML costs a
small multiple of JSON.

XML 1.0 forbids most control characters, which JSON escapes freely; text that
holds them (an echoed ``service=%01``) has each replaced by U+FFFD, so any text
we can render in JSON can be rendered in XML.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from fhir.resources.STU3 import get_fhir_model_class
from fhir.resources.STU3.resource import Resource
from fhir_core.utils import get_fhir_type_name
from lxml import etree

FHIR_NS = "http://hl7.org/fhir"
XHTML_NS = "http://www.w3.org/1999/xhtml"
_PREFIX = "STU3."
_RESOURCE_TYPES = frozenset({"Resource", "DomainResource"})
# XML 1.0 section 2.2: Char ::= #x9 | #xA | #xD | [#x20-#xD7FF] | [#xE000-#xFFFD] | [#x10000-]
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_safe(text: str) -> str:
    """``text`` with every character XML 1.0 forbids replaced by U+FFFD."""
    return _NOT_XML.sub("\ufffd", text)


@dataclass(frozen=True, slots=True)
class _Child:
    order: int
    #: "primitive", "complex", "resource" (contained, entry.resource) or "xhtml" (Narrative.div)
    kind: str
    model: type[Any] | None = None


_PLANS: dict[str, dict[str, _Child]] = {}


def _plan(model: type[Any]) -> dict[str, _Child]:
    """JSON property name -> where it goes and what it is, for one FHIR model class."""
    key = f"{model.__module__}.{model.__qualname__}"
    found = _PLANS.get(key)
    if found is None:
        found = _PLANS[key] = _make_plan(model)
    return found


def _make_plan(model: type[Any]) -> dict[str, _Child]:
    order = {name: i for i, name in enumerate(model.elements_sequence())}
    plan: dict[str, _Child] = {}
    for field in model.model_fields.values():
        name = field.alias or ""
        if name not in order:
            continue
        type_name = str(get_fhir_type_name(field, _PREFIX))
        if name == "div" and model.__name__ == "Narrative":
            plan[name] = _Child(order[name], "xhtml")
        elif type_name in _RESOURCE_TYPES:
            plan[name] = _Child(order[name], "resource")
        elif type_name[:1].islower():
            plan[name] = _Child(order[name], "primitive")
        else:
            plan[name] = _Child(order[name], "complex", get_fhir_model_class(type_name))
    return plan


@cache
def _element_model() -> type[Any]:
    # A primitive's ``_name`` object holds an Element's id and extensions.
    return get_fhir_model_class("Element")


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return xml_safe(value)
    if isinstance(value, int | float):
        return str(value)
    raise ValueError(f"a {type(value).__name__} is not a FHIR primitive value")


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


class _Writer:
    def __init__(self) -> None:
        self._tags: dict[str, str] = {}

    def tag(self, name: str) -> str:
        found = self._tags.get(name)
        if found is None:
            found = self._tags[name] = f"{{{FHIR_NS}}}{name}"
        return found

    def resource(self, parent: etree._Element | None, data: Mapping[str, Any]) -> etree._Element:
        kind = str(data["resourceType"])
        model = get_fhir_model_class(kind)
        if parent is None:
            node = etree.Element(self.tag(kind), nsmap={None: FHIR_NS})  # type: ignore[dict-item]
        else:
            node = etree.SubElement(parent, self.tag(kind))
        self.children(node, data, model, is_resource=True)
        return node

    def children(
        self, node: etree._Element, data: Mapping[str, Any], model: type[Any], is_resource: bool
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
            if not is_resource and (
                name == "id" or (name == "url" and model.__name__ == "Extension")
            ):
                # xml.html: an element's id and an extension's url are attributes.
                node.set(name, _text(data[key]))
            elif key == name or name not in data:
                names.append((child.order, name))
        for _, name in sorted(names):
            self.element(node, name, plan[name], data.get(name), data.get("_" + name))

    def element(
        self, node: etree._Element, name: str, child: _Child, value: Any, extra: Any
    ) -> None:
        if child.kind == "primitive":
            self.primitives(node, name, value, extra)
            return
        for item in _as_list(value):
            if child.kind == "xhtml":
                node.append(_xhtml(str(item)))
                continue
            if not isinstance(item, Mapping):
                raise ValueError(f"'{name}' must be an object, not {type(item).__name__}")
            sub = etree.SubElement(node, self.tag(name))
            if child.kind == "resource":
                self.resource(sub, item)
            elif child.model is not None:
                self.children(sub, item, child.model, is_resource=False)

    def primitives(self, node: etree._Element, name: str, value: Any, extra: Any) -> None:
        """xml.html: ``<name value="…"/>``, its ``_name`` id and extensions inside it."""
        values = _as_list(value) if value is not None else [None] * len(_as_list(extra))
        extras = _as_list(extra) if extra is not None else [None] * len(values)
        extension_model = _element_model()
        for item, more in zip(values, extras, strict=False):
            if item is None and not more:
                continue
            sub = etree.SubElement(node, self.tag(name))
            if more:
                self.children(sub, more, extension_model, is_resource=False)
            if item is not None:
                sub.set("value", _text(item))


def _xhtml(text: str) -> etree._Element:
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    div = etree.fromstring(xml_safe(text).encode("utf-8"), parser=parser)
    if etree.QName(div).namespace != XHTML_NS:
        raise ValueError("Narrative.div must be XHTML")
    return div


def to_xml(resource: Mapping[str, Any]) -> bytes:
    """The FHIR XML of a JSON-shaped resource (UTF-8, with an XML declaration)."""
    root = _Writer().resource(None, resource)
    return bytes(etree.tostring(root, xml_declaration=True, encoding="utf-8"))


def _first_unknown(node: etree._Element, model: type[Any], path: str) -> str | None:
    plan = _plan(model)
    for sub in node:
        if not isinstance(sub.tag, str):
            continue  # a comment or processing instruction
        qname = etree.QName(sub)
        child = plan.get(qname.localname) if qname.namespace in (FHIR_NS, None) else None
        if qname.localname == "div" and qname.namespace == XHTML_NS:
            child = plan.get("div")
        here = f"{path}.{qname.localname}"
        if child is None:
            return here if qname.namespace in (FHIR_NS, None) else f"{path}.{sub.tag}"
        found: str | None = None
        if child.kind == "primitive":
            found = _first_unknown(sub, _element_model(), here)
        elif child.kind == "resource":
            found = _contained_unknown(sub, here)
        elif child.model is not None:
            found = _first_unknown(sub, child.model, here)
        if found:
            return found
    return None


def resource_model(name: str) -> type[Any] | None:
    """The STU3 model of the resource type ``name``; None if that is no resource type."""
    if not name[:1].isupper():
        return None
    try:
        model: type[Any] = get_fhir_model_class(name)
    except (KeyError, ValueError):
        return None
    return model if issubclass(model, Resource) else None


def _contained_unknown(node: etree._Element, path: str) -> str | None:
    for sub in node:
        if isinstance(sub.tag, str):
            name = etree.QName(sub).localname
            model = resource_model(name)
            if model is None or etree.QName(sub).namespace != FHIR_NS:
                return f"{path}.{name}"
            return _first_unknown(sub, model, f"{path}.{name}")
    return None


def unknown_element(root: etree._Element, model: type[Any]) -> str | None:
    """The path of the first element of ``root`` that its STU3 definition lacks, if any."""
    return _first_unknown(root, model, etree.QName(root).localname)
