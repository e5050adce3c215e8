"""CSV tables with a header row, read with row-precise errors.

House style: mapping and data tables are CSV, validated on load; a missing
reference is an error naming the file, the line and the column, never a
silent pass-through.

``every_problem`` runs a loader again and again, leaving out each row (or
table) it failed on, so that ``uec-gateway check-config`` can report every bad
row in one run, each as the CSV's own ``file:line:column``.
"""

from __future__ import annotations

import csv
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO, TypeVar

T = TypeVar("T")


class DataFileError(ValueError):
    """A data file is missing, malformed or refers to something that does not exist."""

    def __init__(
        self,
        file: str,
        message: str,
        *,
        line: int | None = None,
        column: int | None = None,
        path: str | None = None,
    ) -> None:
        where = file if line is None else f"{file} line {line}"
        super().__init__(f"{where}: {message}")
        self.file = file
        self.line = line
        #: 1-based character column of the value, when the problem is in one.
        self.column = column
        #: The file's full path, when known (``file`` is its name only).
        self.path = path
        self.detail = message
        #: The bad row's key (its first value), and whether the problem is only that it
        #: refers to a row already reported as bad (see ``every_problem``).
        self.key: str | None = None
        self.follow_on = False

    def located(self) -> str:
        """``path:line:column: message``, as editors and CI problem matchers read it."""
        path = self.path or self.file
        if self.line is None and not Path(path).is_file():
            return f"{path}: {self.detail}"
        return f"{path}:{self.line or 1}:{self.column or 1}: {self.detail}"


@dataclass(frozen=True, slots=True)
class Row:
    """One data row, remembering where it came from so errors can say so."""

    file: str
    line: int
    values: Mapping[str, str]
    #: The file's full path, and the 1-based character column each value starts at.
    path: str = ""
    starts: Mapping[str, int] = field(default_factory=dict)

    def error(self, column: str, message: str) -> DataFileError:
        exc = DataFileError(
            self.file,
            f"column {column}: {message}",
            line=self.line,
            column=self.starts.get(column),
            path=self.path or None,
        )
        exc.key = next(iter(self.values.values()), None)
        return exc

    def _unknown(self, column: str, value: str, kind: str) -> DataFileError:
        exc = self.error(column, f"unknown {kind} '{value}'")
        survey = _SURVEY.get()
        exc.follow_on = survey is not None and value in survey.keys_left_out
        return exc

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
            raise self._unknown(column, value, kind)
        return value

    def required_reference(self, column: str, known: Mapping[str, object], kind: str) -> str:
        value = self.required(column)
        if value not in known:
            raise self._unknown(column, value, kind)
        return value


def read_table(
    folder: Path, name: str, required: Iterable[str], optional: Iterable[str] = ()
) -> list[Row]:
    """Rows of ``folder/name``; the header must hold every required column and no strangers."""
    path = folder / name
    where = str(path.resolve())
    survey = _SURVEY.get()
    if survey is not None:
        survey.paths[name] = where
        if (where, 0) in survey.left_out:
            return []
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            return _Reader(name, where, handle, survey).rows(tuple(required), tuple(optional))
    except FileNotFoundError:
        raise DataFileError(name, f"file not found in {folder}", path=where) from None
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DataFileError(name, f"unreadable: {exc}", path=where) from exc


class _Lines:
    """The file's lines as the csv reader takes them, keeping the current record's text."""

    def __init__(self, handle: TextIO) -> None:
        self._handle = handle
        self.text = ""

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        line = next(self._handle)
        self.text += line
        return line

    def take(self) -> str:
        """The text read since the last call, blank lines before the record left out."""
        text, self.text = self.text.lstrip("\r\n"), ""
        return text


def _starts(text: str) -> list[int]:
    """The 1-based character column where each value of the record's first line starts."""
    starts, quoted = [1], False
    for position, char in enumerate(text, start=1):
        if char == '"':
            quoted = not quoted
        elif char == "," and not quoted:
            starts.append(position + 1)
        elif char in "\r\n" and not quoted:
            break
    return starts


class _Reader:
    """One table's rows, each remembering its line and where its values start."""

    def __init__(self, name: str, path: str, handle: TextIO, survey: _Survey | None) -> None:
        self._name, self._path, self._survey = name, path, survey
        self._lines = _Lines(handle)
        self._reader = csv.DictReader(self._lines)

    def _error(self, message: str, line: int, column: int = 1) -> DataFileError:
        return DataFileError(self._name, message, line=line, column=column, path=self._path)

    def _header(self, required: tuple[str, ...], optional: tuple[str, ...]) -> list[str]:
        header = [column.strip() for column in self._reader.fieldnames or ()]
        starts = _starts(self._lines.take())
        missing = [column for column in required if column not in header]
        if missing:
            raise self._error(f"missing column(s) {', '.join(missing)}", 1)
        unknown = [i for i, column in enumerate(header) if column not in (*required, *optional)]
        if unknown:
            names = ", ".join(header[i] for i in unknown)
            raise self._error(f"unknown column(s) {names}", 1, starts[unknown[0]])
        return header

    def _left_out(self, line: int) -> bool:
        return self._survey is not None and (self._path, line) in self._survey.left_out

    def rows(self, required: tuple[str, ...], optional: tuple[str, ...]) -> list[Row]:
        header = self._reader.fieldnames = self._header(required, optional)
        rows: list[Row] = []
        for record in self._reader:
            line, starts = self._reader.line_num, _starts(self._lines.take())
            if self._left_out(line):
                continue
            if None in record:
                column = starts[len(header)] if len(starts) > len(header) else 1
                raise self._error("more values than columns", line, column)
            values = {key: value or "" for key, value in record.items()}
            if not any(value.strip() for value in values.values()):
                continue  # a blank line is not a row
            at = dict(zip(header, starts, strict=False))
            rows.append(Row(self._name, line, values, self._path, at))
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


@dataclass
class _Survey:
    """What ``every_problem`` has found so far: rows and tables to leave out."""

    #: (path, line) of each bad row; line 0 leaves the whole table out.
    left_out: set[tuple[str, int]] = field(default_factory=set)
    #: Path of each table read, by name (loaders name a table-wide problem by name only).
    paths: dict[str, str] = field(default_factory=dict)
    #: The keys (first values) of the rows left out.
    keys_left_out: set[str] = field(default_factory=set)


_SURVEY: ContextVar[_Survey | None] = ContextVar("csv_survey", default=None)


async def every_problem(
    check: Callable[[], Awaitable[object]], *, limit: int = 1000
) -> Sequence[Exception]:
    """Every problem ``check`` finds: each bad row, each bad table, then any other error.

    ``check`` is run again after each ``DataFileError`` with the row (or, for a
    problem in a header or a whole table, the table) left out, until it passes,
    fails on something already left out, or raises anything else. A row whose
    only problem is a reference to a row left out (by that row's key, its first
    value) is left out too but not reported: its cause already is.
    """
    survey = _Survey()
    token = _SURVEY.set(survey)
    problems: list[Exception] = []
    try:
        for _ in range(limit):
            try:
                await check()
                break
            except DataFileError as exc:
                exc.path = exc.path or survey.paths.get(exc.file)
                key = (exc.path or exc.file, exc.line if exc.line and exc.line > 1 else 0)
                if key in survey.left_out:
                    break
                if not key[1] and any(p == key[0] for p, _ in survey.left_out):
                    exc.detail += " (with the bad rows above left out)"
                survey.left_out.add(key)
                if exc.key is not None and key[1]:
                    survey.keys_left_out.add(exc.key)
                if not exc.follow_on:
                    problems.append(exc)
            except Exception as exc:  # reported, whatever raised it
                problems.append(exc)
                break
    finally:
        _SURVEY.reset(token)
    return problems
