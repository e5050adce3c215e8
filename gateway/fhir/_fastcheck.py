"""A quick yes to "would fhir.resources accept this resource?", or "ask it" (issue 14).

Validating an incoming Appointment with ``fhir.resources`` costs about a
millisecond, most of a booking's own CPU. Nearly every body a consumer sends is
valid, so this walks the JSON once against a per-class plan taken from the same
models (field names, list or single, required elements, choice groups, child
types) and answers:

- ``True``: certainly valid — every key is an element of its model, every list
  a non-empty list of objects or values, every required element present, at most
  one (or, where required, exactly one) element of each choice group, every
  primitive of the JSON type FHIR gives it (json.html: strings as strings, only
  integer/decimal as numbers, only booleans as true/false) and accepted by
  fhir_core's own validator for that primitive type;
- ``False``: not certain — the caller runs the full ``fhir.resources`` check,
  which also words the error. Anything unusual (primitive extensions ``_x``,
  narrative XHTML, ``null``, empty objects or lists, comments) is "not certain".

So a yes here never admits what ``fhir.resources`` would refuse: the plan is
stricter, and tests/fhir/test_fastcheck.py checks that on thousands of mutated
bodies.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

from fhir.resources.STU3 import get_fhir_model_class as stu3_model_class
from fhir_core.utils import get_fhir_type_name, is_list_type
from pydantic import TypeAdapter, ValidationError

_RESOURCE_TYPES = frozenset({"Resource", "DomainResource"})
_STRINGS = frozenset(
    {
        "string",
        "markdown",
        "code",
        "id",
        "uri",
        "url",
        "canonical",
        "oid",
        "uuid",
        "date",
        "dateTime",
        "instant",
        "time",
        "base64Binary",
    }
)
_INTEGERS = frozenset({"integer", "positiveInt", "unsignedInt"})


@dataclass(frozen=True, slots=True)
class _Element:
    many: bool
    #: "primitive", "complex" or "resource" (contained); None: always "not certain".
    kind: str | None
    type_name: str
    model: type[Any] | None = None
    check: Callable[[Any], bool] | None = None


@dataclass(frozen=True, slots=True)
class _Plan:
    resource_type: str | None
    elements: dict[str, _Element]
    required: tuple[str, ...]
    #: Choice groups: (json names, exactly one required).
    choices: tuple[tuple[tuple[str, ...], bool], ...]


class Checker:
    """Plans for one FHIR release's models (``"STU3."`` or ``"R4B."``)."""

    def __init__(self, prefix: str, model_class: Callable[[str], type[Any]]) -> None:
        self._prefix = prefix
        self._model_class = model_class
        self._plans: dict[type[Any], _Plan] = {}

    def surely_valid(self, data: Any, model: type[Any]) -> bool:
        """True only if ``model.model_validate(data)`` certainly accepts ``data``."""
        try:
            return self._object(data, model, is_resource=True)
        except (KeyError, TypeError, ValueError, RecursionError):
            return False

    def _object(self, data: Any, model: type[Any], *, is_resource: bool) -> bool:
        if not isinstance(data, dict) or not data:
            return False
        plan = self._plan(model)
        if is_resource:
            if data.get("resourceType") != plan.resource_type:
                return False
        elif "resourceType" in data:
            return False
        for key, value in data.items():
            if key == "resourceType" and is_resource:
                continue
            element = plan.elements.get(key)
            if element is None or not self._value(value, element):
                return False
        if any(data.get(name) is None for name in plan.required):
            return False
        for names, required in plan.choices:
            present = sum(1 for name in names if name in data)
            if present > 1 or (required and present == 0):
                return False
        return True

    def _value(self, value: Any, element: _Element) -> bool:
        if element.many:
            if not isinstance(value, list) or not value:
                return False
            return all(self._one(item, element) for item in value)
        return self._one(value, element)

    def _one(self, value: Any, element: _Element) -> bool:
        if element.kind == "primitive":
            return element.check is not None and element.check(value)
        if element.kind == "complex":
            assert element.model is not None
            return self._object(value, element.model, is_resource=False)
        if element.kind == "resource":
            if not isinstance(value, dict) or not isinstance(value.get("resourceType"), str):
                return False
            try:
                model = self._model_class(value["resourceType"])
            except (ValueError, KeyError):
                return False
            return self._object(value, model, is_resource=True)
        return False

    def _plan(self, model: type[Any]) -> _Plan:
        found = self._plans.get(model)
        if found is None:
            found = self._plans[model] = self._make_plan(model)
        return found

    def _make_plan(self, model: type[Any]) -> _Plan:
        elements: dict[str, _Element] = {}
        required: list[str] = []
        groups: dict[str, tuple[list[str], bool]] = {}
        for field in model.model_fields.values():
            name = field.alias or ""
            extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
            if not name or name.startswith("_") or not extra.get("element_property"):
                continue
            elements[name] = self._element(field, name, model)
            if field.is_required() or extra.get("element_required") is True:
                required.append(name)
            prefix = extra.get("one_of_many")
            if isinstance(prefix, str):
                group = groups.setdefault(prefix, ([], extra.get("one_of_many_required") is True))
                group[0].append(name)
        choices = tuple((tuple(names), needed) for names, needed in groups.values())
        resource_type = getattr(model, "get_resource_type", lambda: None)()
        return _Plan(resource_type, elements, tuple(required), choices)

    def _element(self, field: Any, name: str, model: type[Any]) -> _Element:
        many = is_list_type(field)
        type_name = str(get_fhir_type_name(field, self._prefix))
        if name == "div" and model.__name__ == "Narrative":
            return _Element(many, None, type_name)
        if type_name in _RESOURCE_TYPES:
            return _Element(many, "resource", type_name)
        if type_name[:1].islower():
            return _Element(many, "primitive", type_name, check=_primitive_check(field, type_name))
        return _Element(many, "complex", type_name, model=self._model_class(type_name))


def _primitive_check(field: Any, type_name: str) -> Callable[[Any], bool] | None:
    """The JSON type FHIR gives ``type_name``, then fhir_core's own validator of it."""
    if type_name in _STRINGS:
        kinds: tuple[type, ...] = (str,)
    elif type_name in _INTEGERS:
        kinds = (int,)
    elif type_name == "decimal":
        kinds = (int, float)
    elif type_name == "boolean":
        kinds = (bool,)
    else:
        return None  # xhtml and anything else: always the full check
    try:
        adapter = _adapter(field)
    except ValueError:
        return None

    def check(value: Any) -> bool:
        if type(value) not in kinds:
            return False
        if isinstance(value, str) and not value.strip():
            return False
        try:
            adapter.validate_python([value] if _is_list(field) else value)
        except (ValidationError, ValueError, TypeError):
            return False
        return True

    return check


def _is_list(field: Any) -> bool:
    return bool(is_list_type(field))


def _adapter(field: Any) -> TypeAdapter[Any]:
    if field.metadata:  # pragma: no cover - no FHIR model field carries any today
        raise ValueError("a field with metadata of its own is always fully checked")
    return _cached_adapter(field.annotation)


@cache
def _cached_adapter(annotation: Any) -> TypeAdapter[Any]:
    return TypeAdapter(annotation)


#: The checker of STU3 (CareConnect) resources.
STU3_CHECKER = Checker("STU3.", stu3_model_class)
