"""FHIR JSON -> FHIR XML, written directly as text (http://hl7.org/fhir/STU3/xml.html).

The general converter in ``fhir.resources`` validates the whole resource again and
looks up every element's type on every element; for a slot Bundle that is ~70x the
cost of JSON. This writer walks the JSON we rendered once, using each model's
element order and child types from a per-class plan computed once, and writes the
XML as text: FHIR XML is elements with ``value``/``id``/``url`` attributes and no
text, so escaping attribute values is all the serialising there is. Only a
Narrative's ``div`` (XHTML, parsed from the JSON string) goes through lxml.

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
#: A character an attribute value cannot hold as it is: one XML forbids, one that is
#: markup (& < "; > as libxml2 does), or white space other than a space, which an XML
#: reader would normalise to a space (XML 1.0 section 3.3.3) unless written as a reference.
_NOT_PLAIN = re.compile(
    "[^\x20\x21\x23-\x25\x27-\x3b\x3d\x3f-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]"
)
_ESCAPES = str.maketrans(
    {
        "&": "&amp;",
        "<": "&lt;",
        ">": "&gt;",
        '"': "&quot;",
        "\t": "&#9;",
        "\n": "&#10;",
        "\r": "&#13;",
    }
)
_DECLARATION = "<?xml version='1.0' encoding='utf-8'?>\n"
_ROOT_NS = f' xmlns="{FHIR_NS}"'
_TAG_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*\Z")


def xml_safe(text: str) -> str:
    """``text`` with every character XML 1.0 forbids replaced by U+FFFD."""
    return _NOT_XML.sub("\ufffd", text)


def _attribute(text: str) -> str:
    """``text`` as it goes between the quotes of an attribute (xml_safe, then escaped)."""
    if type(text) is str and _NOT_PLAIN.search(text) is None:
        return text
    # (A str subclass comes out as plain str, its characters, as lxml would write it.)
    return xml_safe(text).translate(_ESCAPES)


@dataclass(frozen=True, slots=True)
class _Child:
    order: int
    #: "primitive", "complex", "resource" (contained, entry.resource) or "xhtml" (Narrative.div)
    kind: str
    model: type[Any] | None = None
    #: The JSON name, its ``_name`` companion, and the element's tag as written.
    name: str = ""
    extra_key: str = ""
    open: str = ""
    close: str = ""


def _child(name: str, order: int, kind: str, model: type[Any] | None = None) -> _Child:
    return _Child(order, kind, model, name, "_" + name, "<" + name, "</" + name + ">")


_PLANS: dict[type[Any], dict[str, _Child]] = {}


def _plan(model: type[Any]) -> dict[str, _Child]:
    """JSON property name -> where it goes and what it is, for one FHIR model class."""
    found = _PLANS.get(model)
    if found is None:
        found = _PLANS[model] = _make_plan(model)
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
            plan[name] = _child(name, order[name], "xhtml")
        elif type_name in _RESOURCE_TYPES:
            plan[name] = _child(name, order[name], "resource")
        elif type_name[:1].islower():
            plan[name] = _child(name, order[name], "primitive")
        else:
            plan[name] = _child(name, order[name], "complex", get_fhir_model_class(type_name))
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


def _value(value: Any) -> str:
    """``_text(value)``, escaped for an attribute."""
    if isinstance(value, str):
        return _attribute(value)
    return _text(value)


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


@dataclass(frozen=True, slots=True)
class _Layout:
    """How one object with these keys, in this order, is written."""

    #: (JSON key, attribute name): xml.html's attributes (an element's id, an extension's url).
    attributes: tuple[tuple[str, str], ...]
    #: The child elements, in the model's element order, each with whether it is a
    #: primitive without a ``_name`` (``<name value="…"/>`` if its value is text).
    children: tuple[tuple[_Child, bool], ...]


#: Layouts by (model, is a resource, the object's keys in order). The objects we
#: render have a few shapes each, so this stays small; cleared if it ever fills.
_LAYOUTS: dict[tuple[type[Any], bool, tuple[str, ...]], _Layout] = {}
_LAYOUTS_MAX = 4096


def _make_layout(
    data: Mapping[str, Any], model: type[Any], is_resource: bool
) -> tuple[_Layout, dict[str, str]]:
    """The layout of ``data``, and its attributes' values (read in key order, as written)."""
    plan = _plan(model)
    attributes: list[tuple[str, str]] = []
    values: dict[str, str] = {}
    names: list[tuple[int, str]] = []
    for key in data:
        if key in ("resourceType", "fhir_comments"):
            continue
        name = key[1:] if key.startswith("_") else key
        child = plan.get(name)
        if child is None:
            raise ValueError(f"'{key}' is not an element of {model.__name__}")
        if not is_resource and (name == "id" or (name == "url" and model.__name__ == "Extension")):
            # xml.html: an element's id and an extension's url are attributes.
            attributes.append((key, name))
            values[name] = _value(data[key])
        elif key == name or name not in data:
            names.append((child.order, name))
    children = tuple(
        (plan[name], plan[name].kind == "primitive" and "_" + name not in data)
        for _, name in sorted(names)
    )
    return _Layout(tuple(attributes), children), values


def _attributes(values: dict[str, str]) -> str:
    return "".join(" " + name + '="' + value + '"' for name, value in values.items())


#: resourceType -> its model and its start and end tags.
_RESOURCE_TAGS: dict[str, tuple[type[Any], str, str]] = {}


def _resource_tags(kind: str) -> tuple[type[Any], str, str]:
    """The model of ``kind`` (ValueError if none) and the tags it is written with."""
    found = _RESOURCE_TAGS.get(kind)
    if found is None:
        model = get_fhir_model_class(kind)
        if not _TAG_NAME.match(kind):
            raise ValueError(f"Invalid tag name {kind!r}")
        found = _RESOURCE_TAGS[kind] = (model, "<" + kind, "</" + kind + ">")
    return found


class _Writer:
    """Appends the XML of one resource to ``out``, a list of text pieces."""

    def __init__(self) -> None:
        self.out: list[str] = []

    def resource(self, data: Mapping[str, Any], root: bool = False) -> None:
        model, opening, closing = _resource_tags(str(data["resourceType"]))
        self.wrapped(opening + _ROOT_NS if root else opening, closing, data, model, True)

    def wrapped(
        self, opening: str, closing: str, data: Any, model: type[Any], is_resource: bool
    ) -> None:
        """``<tag attributes>children</tag>``, or ``<tag attributes/>`` with no children."""
        out = self.out
        out.append(opening)
        at = len(out)
        out.append("")
        attributes = self.children(data, model, is_resource)
        if len(out) == at + 1:
            out[at] = attributes + "/>"
        else:
            out[at] = attributes + ">"
            out.append(closing)

    def children(self, data: Any, model: type[Any], is_resource: bool) -> str:
        """Write the children of ``data``; return its attributes, as written in its start tag."""
        if type(data) is dict:
            key = (model, is_resource, tuple(data))
            layout = _LAYOUTS.get(key)
            if layout is None:
                layout, values = _make_layout(data, model, is_resource)
                if len(_LAYOUTS) >= _LAYOUTS_MAX:
                    _LAYOUTS.clear()
                _LAYOUTS[key] = layout
            else:
                values = {name: _value(data[k]) for k, name in layout.attributes}
            out = self.out
            plain_text = _NOT_PLAIN.search
            for child, plain in layout.children:
                value = data.get(child.name)
                if plain and type(value) is str:
                    if plain_text(value) is not None:
                        value = _attribute(value)
                    out.append(child.open + ' value="' + value + '"/>')
                else:
                    self.element(child, value, data.get(child.extra_key))
        else:
            # Not a JSON object: the same reading, uncached, fails as it would for one.
            layout, values = _make_layout(data, model, is_resource)
            for child, _ in layout.children:
                self.element(child, data.get(child.name), data.get(child.extra_key))
        return _attributes(values) if values else ""

    def element(self, child: _Child, value: Any, extra: Any) -> None:
        kind = child.kind
        if kind == "primitive":
            if extra is None and isinstance(value, str):
                self.out.append(child.open + ' value="' + _attribute(value) + '"/>')
            else:
                self.primitives(child, value, extra)
            return
        for item in _as_list(value):
            if kind == "xhtml":
                self.out.append(_xhtml_text(str(item)))
                continue
            if type(item) is not dict and not isinstance(item, Mapping):
                raise ValueError(f"'{child.name}' must be an object, not {type(item).__name__}")
            if kind == "resource":
                self.out.append(child.open + ">")
                self.resource(item)
                self.out.append(child.close)
            elif child.model is not None:
                self.wrapped(child.open, child.close, item, child.model, False)

    def primitives(self, child: _Child, value: Any, extra: Any) -> None:
        """xml.html: ``<name value="…"/>``, its ``_name`` id and extensions inside it."""
        values = _as_list(value) if value is not None else [None] * len(_as_list(extra))
        extras = _as_list(extra) if extra is not None else [None] * len(values)
        out = self.out
        for item, more in zip(values, extras, strict=False):
            if item is None and not more:
                continue
            out.append(child.open)
            at = len(out)
            out.append("")
            attributes = self.children(more, _element_model(), False) if more else ""
            if item is not None:
                attributes += ' value="' + _value(item) + '"'
            if len(out) == at + 1:
                out[at] = attributes + "/>"
            else:
                out[at] = attributes + ">"
                out.append(child.close)


def _xhtml(text: str) -> etree._Element:
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    div = etree.fromstring(xml_safe(text).encode("utf-8"), parser=parser)
    if etree.QName(div).namespace != XHTML_NS:
        raise ValueError("Narrative.div must be XHTML")
    # A reference to an entity of the div's own DTD (left unexpanded: entities are off)
    # would be written as ``&name;`` with no DTD to define it, and the answer would not
    # be well-formed XML at all.
    if next(div.iter(etree.Entity), None) is not None:
        raise ValueError("Narrative.div must not refer to entities of a DTD")
    return div


def _xhtml_text(text: str) -> str:
    """Narrative.div as XHTML, checked and written by lxml, to splice into the resource."""
    written = etree.tostring(_xhtml(text), encoding="utf-8", xml_declaration=False)
    return bytes(written).decode("utf-8")


def to_xml(resource: Mapping[str, Any]) -> bytes:
    """The FHIR XML of a JSON-shaped resource (UTF-8, with an XML declaration)."""
    writer = _Writer()
    writer.out.append(_DECLARATION)
    writer.resource(resource, root=True)
    return "".join(writer.out).encode("utf-8")


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
