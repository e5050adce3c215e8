"""YAML that refuses duplicate keys and remembers where every value was written.

PyYAML's safe loader silently keeps the last of two equal keys; in a
configuration that hides a mistake (two ``services:`` lists, one ignored).
``load_with_marks`` returns the data plus a map from each path
(``("adapters", 0, "options", "data_dir")``) to its 1-based line and column, so
every problem can be reported as ``file:line:column``.
"""

from __future__ import annotations

from typing import Any

import yaml

Path_ = tuple[str | int, ...]
Marks = dict[Path_, tuple[int, int]]


class DuplicateKey(yaml.MarkedYAMLError):
    """A mapping has the same key twice."""


class _StrictLoader(yaml.SafeLoader):
    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, yaml.Node] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                first = seen[key].start_mark
                raise DuplicateKey(
                    f"while reading a mapping (key '{key}' first at line {first.line + 1},"
                    f" column {first.column + 1})",
                    node.start_mark,
                    f"duplicate key '{key}'",
                    key_node.start_mark,
                )
            seen[key] = key_node
        return super().construct_mapping(node, deep=deep)


def _walk(node: yaml.Node, path: Path_, marks: Marks) -> None:
    marks[path] = (node.start_mark.line + 1, node.start_mark.column + 1)
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = key_node.value
            marks[(*path, key)] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            _walk(value_node, (*path, key), marks)
            # The key's own position is more useful than its value's for messages.
            marks[(*path, key)] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _walk(item, (*path, index), marks)


def load_with_marks(text: str) -> tuple[Any, Marks]:
    """Parse ``text`` strictly; raise ``yaml.YAMLError`` (with marks) on any problem."""
    loader = _StrictLoader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    finally:
        loader.dispose()
    marks: Marks = {}
    if node is not None:
        _walk(node, (), marks)
    return data, marks


def where(marks: Marks, path: Path_) -> tuple[int, int] | None:
    """The position of ``path``, or of its nearest written ancestor."""
    for end in range(len(path), -1, -1):
        found = marks.get(tuple(path[:end]))
        if found is not None:
            return found
    return None
