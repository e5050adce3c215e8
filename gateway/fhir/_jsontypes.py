"""The JSON shape of FHIR primitives, which fhir.resources' lax parsing does not enforce.

STU3 json.html: ``integer``, ``positiveInt``, ``unsignedInt`` and ``decimal`` are
JSON numbers, ``boolean`` is a JSON boolean, and every other primitive
(``instant``, ``dateTime``, ``date``, ``string``, ``code``, ...) is a JSON string.
pydantic in lax mode reads ``"start": 0`` as an instant in 1970 and
``"indexed": 12345`` as one a few hours later, so the structural check would
let them through; here a raw number or boolean is compared with what the model
made of it, element by element.
"""

from __future__ import annotations

import functools
from decimal import Decimal
from typing import Any

from fhir.resources.STU3 import get_fhir_model_class
from fhir.resources.STU3.resource import Resource
from pydantic import BaseModel


@functools.cache
def _fields(model: type[BaseModel]) -> dict[str, str]:
    """JSON name -> attribute name of each element of ``model``."""
    return {(info.alias or name): name for name, info in model.model_fields.items()}


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float | Decimal) and not isinstance(value, bool)


def _mismatch(raw: Any, parsed: Any, where: str) -> str | None:
    if isinstance(raw, bool):
        return None if isinstance(parsed, bool) else where
    if _is_number(raw):
        return None if _is_number(parsed) else where
    if isinstance(raw, dict) and isinstance(parsed, BaseModel):
        return wrong_json_type(raw, parsed, where)
    if isinstance(raw, list) and isinstance(parsed, list):
        for index, (item, made) in enumerate(zip(raw, parsed, strict=False)):
            found = _mismatch(item, made, f"{where}[{index}]")
            if found:
                return found
    return None


def wrong_json_type(raw: dict[str, Any], parsed: BaseModel, where: str) -> str | None:
    """The first element of ``raw`` sent as a number or boolean where FHIR says otherwise."""
    fields = _fields(type(parsed))
    for key, value in raw.items():
        name = fields.get(key)
        if name is None:
            continue
        found = _mismatch(value, getattr(parsed, name, None), f"{where}.{key}")
        if found:
            return found
    return None


def unknown_contained_type(data: dict[str, Any]) -> str | None:
    """Why ``data.contained`` cannot be read as resources (fhir.resources fails on it), if so."""
    contained = data.get("contained")
    if not isinstance(contained, list):
        return None  # the structural check names the wrong shape
    for index, item in enumerate(contained):
        if not isinstance(item, dict) or "resourceType" not in item:
            continue  # the structural check names it
        kind = item["resourceType"]
        if not isinstance(kind, str):
            return f"Appointment.contained[{index}].resourceType must be a string naming a resource"
        try:
            model = get_fhir_model_class(kind)
        except (ValueError, KeyError):
            model = None
        if model is None or not issubclass(model, Resource):
            return f"Appointment.contained[{index}]: '{kind[:64]}' is not an STU3 resource type"
    return None
