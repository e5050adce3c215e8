"""YAML that refuses duplicate keys and remembers where every value was written.

PyYAML's safe loader silently keeps the last of two equal keys; in a
configuration that hides a mistake (two ``services:`` lists, one ignored).
``load_with_marks`` returns the data plus a map from each path
(``("adapters", 0, "options", "data_dir")``) to its 1-based line and column, so
every problem can be reported as ``file:line:column``. Given a list,
it records duplicate keys there instead (keeping each key's first value), so a
checker can go on to report every other problem of the file.
"""

from __future__ import annotations

from typing import Any

import yaml

Path_ = tuple[str | int, ...]
Marks = dict[Path_, tuple[int, int]]


class DuplicateKey(yaml.MarkedYAMLError):
    """A mapping has the same key twice."""


class _StrictLoader(yaml.SafeLoader):
    #: Where duplicate keys are recorded; None raises at the first one.
    duplicates: list[DuplicateKey] | None = None

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, yaml.Node] = {}
        kept: list[tuple[yaml.Node, yaml.Node]] = []
        for key_node, value_node in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                problem = _duplicate(key, seen[key], node, key_node)
                if self.duplicates is None:
                    raise problem
                self.duplicates.append(problem)
                continue
            seen[key] = key_node
            kept.append((key_node, value_node))
        if len(kept) < len(node.value):
            node = yaml.MappingNode(node.tag, kept, node.start_mark, node.end_mark, node.flow_style)
        return super().construct_mapping(node, deep=deep)


def _duplicate(key: Any, first: yaml.Node, node: yaml.Node, again: yaml.Node) -> DuplicateKey:
    at = first.start_mark
    return DuplicateKey(
        f"while reading a mapping (key '{key}' first at line {at.line + 1},"
        f" column {at.column + 1})",
        node.start_mark,
        f"duplicate key '{key}' (first at line {at.line + 1}, column {at.column + 1})",
        again.start_mark,
    )


def _walk(node: yaml.Node, path: Path_, marks: Marks) -> None:
    marks[path] = (node.start_mark.line + 1, node.start_mark.column + 1)
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = key_node.value
            if (*path, key) in marks:
                continue  # a duplicate key: its first value is the one kept
            marks[(*path, key)] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            _walk(value_node, (*path, key), marks)
            # The key's own position is more useful than its value's for messages.
            marks[(*path, key)] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _walk(item, (*path, index), marks)


def load_with_marks(text: str, duplicates: list[DuplicateKey] | None = None) -> tuple[Any, Marks]:
    """Parse ``text`` strictly; raise ``yaml.YAMLError`` (with marks) on any problem.

    With ``duplicates`` given, duplicate keys are appended to it instead of raised.
    """
    loader = _StrictLoader(text)
    loader.duplicates = duplicates
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
