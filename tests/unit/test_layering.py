"""The layering of adapters, toolkits and doors, read from every module's import statements.

``../shared/DESIGN.md``: a door or an adapter uses a protocol toolkit, never another
adapter's internals. An adapter is a package registered in ``adapters/registry.py``;
a toolkit is a package of ``adapters/`` named ``*_toolkit`` and is registered nowhere.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from adapters.registry import ADAPTERS

ROOT = Path(__file__).resolve().parents[2]
#: Registered adapter packages, e.g. {"embedded", "hl7v2", ...}.
ADAPTER_PACKAGES = frozenset(target.partition(":")[0].split(".")[1] for target in ADAPTERS.values())


@dataclass(frozen=True, slots=True)
class Import:
    """One imported module path, with where the statement is."""

    module: str
    line: int


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(source: str, module: str, is_package: bool) -> Iterator[Import]:
    """Every module an ``import``/``from ... import`` names (relative ones resolved).

    ``from pkg import name`` yields ``pkg.name`` too, since ``name`` may be a module.
    """
    here = module.split(".") if is_package else module.split(".")[:-1]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(alias.name, node.lineno)
        elif isinstance(node, ast.ImportFrom):
            base = here[: len(here) - node.level + 1] if node.level else []
            target = ".".join(base + ([node.module] if node.module else []))
            yield Import(target, node.lineno)
            for alias in node.names:
                yield Import(f"{target}.{alias.name}", node.lineno)


def package_of(module: str) -> str | None:
    """``hl7v2`` for ``adapters.hl7v2.mllp``; None outside a package of ``adapters``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "adapters" else None


def is_package_dir(name: str) -> bool:
    return (ROOT / "adapters" / name / "__init__.py").is_file()


def violations(source: str, module: str, is_package: bool = False) -> list[str]:
    """What ``module`` (source ``source``) imports that the layering forbids."""
    found: dict[tuple[int, str | None], str] = {}
    own = package_of(module)
    for item in imports(source, module, is_package):
        target = package_of(item.module)
        if (item.line, target) in found:
            continue  # one report per statement and package it reaches
        top = item.module.split(".")[0]
        why = None
        if module.startswith("adapters") and top == "gateway":
            why = "adapters and toolkits never import gateway/"
        elif target not in ADAPTER_PACKAGES or target == own:
            continue
        elif module.startswith("gateway"):
            why = "a door reaches an adapter only through adapters.registry"
        elif own in ADAPTER_PACKAGES:
            why = f"adapter '{own}' imports adapter '{target}'"
        elif own is not None:
            why = f"toolkit '{own}' imports adapter '{target}'"
        if why:
            found[(item.line, target)] = f"{module}:{item.line} imports {item.module}: {why}"
    return list(found.values())


def modules() -> Iterator[tuple[Path, str]]:
    for top in ("adapters", "gateway"):
        for path in sorted((ROOT / top).rglob("*.py")):
            yield path, module_name(path)


def test_no_adapter_imports_another_and_no_door_imports_an_adapter() -> None:
    """No adapter or toolkit imports an adapter package, and gateway/ imports none at all."""
    problems = [
        problem
        for path, module in modules()
        for problem in violations(path.read_text(), module, path.name == "__init__.py")
    ]
    assert problems == []


def test_every_package_of_adapters_is_a_registered_adapter_or_a_toolkit() -> None:
    """Each package under adapters/ is registered or named *_toolkit, never both."""
    packages = {p.parent.name for p in (ROOT / "adapters").glob("*/__init__.py")}
    toolkits = {p for p in packages if p.endswith("_toolkit")}
    assert toolkits >= {"diary_toolkit", "hl7_toolkit", "soap_toolkit"}
    assert not toolkits & ADAPTER_PACKAGES
    assert packages - toolkits == ADAPTER_PACKAGES


def test_the_walk_sees_forbidden_imports_in_every_spelling() -> None:
    """Absolute, relative, from-package and lazy imports across the line are all reported."""
    assert is_package_dir("hl7v2") and is_package_dir("rest_diary")
    cases = [
        ("from adapters.rest_diary import _wire", "adapters.soap_diary.adapter", False),
        ("from ...rest_diary.peer.faults import Mode", "adapters.soap_diary.peer", True),
        ("from ..rest_diary import mappings", "adapters.soap_diary.adapter", False),
        ("from adapters import hl7v2", "gateway.hl7.door", False),
        ("def f() -> None:\n    import adapters.hl7v2.mllp", "gateway.hl7.listener", False),
        ("import adapters.embedded as e", "adapters.hl7_toolkit.er7", False),
        ("from gateway.errors import ErrorKind", "adapters.hl7_toolkit.pid", False),
    ]
    for source, module, is_package in cases:
        assert len(violations(source, module, is_package)) == 1, source
    allowed = {
        "from adapters.hl7_toolkit.er7 import Message": "gateway.hl7.door",
        "from adapters.registry import resolve": "gateway.runtime",
        "from . import _wire": "adapters.soap_diary.adapter",
        "from adapters.soap_toolkit import envelope": "adapters.soap_diary._wire",
        "from adapters.diary_toolkit.convert import Converter": "adapters.rest_diary.adapter",
    }
    for source, module in allowed.items():
        assert violations(source, module) == [], source
