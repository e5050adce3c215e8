"""CSV tables with a header row, read with row-precise errors.

House style: mapping and data tables are CSV, validated on load; a missing
reference is an error naming the file, the line and the column, never a
silent pass-through.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")


class DataFileError(ValueError):
    """A data file is missing, malformed or refers to something that does not exist."""

    def __init__(self, file: str, message: str, *, line: int | None = None) -> None:
        where = file if line is None else f"{file} line {line}"
        super().__init__(f"{where}: {message}")
        self.file = file
        self.line = line


@dataclass(frozen=True, slots=True)
class Row:
    """One data row, remembering where it came from so errors can say so."""

    file: str
    line: int
    values: Mapping[str, str]

    def error(self, column: str, message: str) -> DataFileError:
        return DataFileError(self.file, f"column {column}: {message}", line=self.line)

    def optional(self, column: str) -> str | None:
        value = self.values.get(column, "").strip()
        return value or None

    def required(self, column: str) -> str:
        value = self.optional(column)
        if value is None:
            raise self.error(column, "a value is required")
        return value

    def parsed(self, column: str, parse: Callable[[str], T]) -> T:
        """The required value of ``column`` through ``parse``; its ValueError names the row."""
        raw = self.required(column)
        try:
            return parse(raw)
        except ValueError as exc:
            raise self.error(column, str(exc)) from None

    def reference(self, column: str, known: Mapping[str, object], kind: str) -> str | None:
        """An optional id that, when present, must name a known ``kind``."""
        value = self.optional(column)
        if value is not None and value not in known:
            raise self.error(column, f"unknown {kind} '{value}'")
        return value

    def required_reference(self, column: str, known: Mapping[str, object], kind: str) -> str:
        value = self.required(column)
        if value not in known:
            raise self.error(column, f"unknown {kind} '{value}'")
        return value


def read_table(
    folder: Path, name: str, required: Iterable[str], optional: Iterable[str] = ()
) -> list[Row]:
    """Rows of ``folder/name``; the header must hold every required column and no strangers."""
    path = folder / name
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            return _rows(name, csv.DictReader(handle), tuple(required), tuple(optional))
    except FileNotFoundError:
        raise DataFileError(name, f"file not found in {folder}") from None
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DataFileError(name, f"unreadable: {exc}") from exc


def _rows(
    name: str, reader: csv.DictReader[str], required: tuple[str, ...], optional: tuple[str, ...]
) -> list[Row]:
    header = [column.strip() for column in reader.fieldnames or ()]
    missing = [column for column in required if column not in header]
    if missing:
        raise DataFileError(name, f"missing column(s) {', '.join(missing)}", line=1)
    unknown = [column for column in header if column not in (*required, *optional)]
    if unknown:
        raise DataFileError(name, f"unknown column(s) {', '.join(unknown)}", line=1)
    reader.fieldnames = header
    rows: list[Row] = []
    for record in reader:
        if None in record:
            raise DataFileError(name, "more values than columns", line=reader.line_num)
        values = {key: value or "" for key, value in record.items()}
        if not any(value.strip() for value in values.values()):
            continue  # a blank line is not a row
        rows.append(Row(name, reader.line_num, values))
    return rows


def unique_ids(rows: Iterable[Row], column: str = "id") -> dict[str, Row]:
    """Rows keyed by ``column``; a repeated id names both lines."""
    seen: dict[str, Row] = {}
    for row in rows:
        key = row.required(column)
        if key in seen:
            raise row.error(column, f"duplicate id '{key}' (first on line {seen[key].line})")
        seen[key] = row
    return seen
