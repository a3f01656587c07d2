"""CSV in and out of the apps, framework-free.

Reading an upload stops at `settings.max_csv_rows` data rows with a clear
error instead of loading an unbounded file.  Writing escapes cells a
spreadsheet would run as a formula (CSV/formula injection): text starting with
`= + - @`, tab or carriage return gets a leading apostrophe.  Plain numbers
such as `-1.5` are left alone; they are data, not formulas.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import math
import numbers
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import IO, Any

import numpy as np
import pandas as pd

from common.settings import get_settings

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$")


class CsvError(ValueError):
    """The upload is not a usable CSV; the message says what to fix."""


@dataclasses.dataclass(frozen=True)
class CsvTable:
    columns: list[str]
    rows: list[dict[str, str]]  # one dict per data row, keyed by column name

    def __len__(self) -> int:
        return len(self.rows)


def _decode(data: bytes | str | IO[bytes] | IO[str]) -> str:
    if hasattr(data, "read"):
        data = data.read()  # type: ignore[union-attr]
    if isinstance(data, bytes):
        try:
            return data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise CsvError(f"the file is not UTF-8 text (byte {exc.start}); save it as CSV UTF-8") from None
    return data.removeprefix("\ufeff")  # type: ignore[union-attr]


def _delimiter(text: str) -> str:
    """Comma, unless the header line only has semicolons (European spreadsheets) or tabs."""
    header = next((line for line in text.splitlines() if line.strip()), "")
    for candidate in (",", ";", "\t"):
        if candidate in header:
            return candidate
    return ","


def csv_read_rows(
    *,
    data: bytes | str | IO[bytes] | IO[str],
    max_rows: int | None = None,
    required_columns: Sequence[str] = (),
) -> CsvTable:
    """Parse an uploaded CSV (header row first) into rows of strings.

    Raises `CsvError` when the file is empty, not UTF-8, has duplicate or missing
    columns, a row with more fields than the header, or more than `max_rows`
    data rows (default `settings.max_csv_rows`).  Blank lines are skipped;
    short rows get "" for their missing trailing fields.
    """
    limit = get_settings().max_csv_rows if max_rows is None else max_rows
    text = _decode(data)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text))
    try:
        header = next((row for row in reader if any(cell.strip() for cell in row)), None)
        if header is None:
            raise CsvError("the file is empty: expected a header row naming the columns")
        columns = [name.strip() for name in header]
        if any(not name for name in columns):
            raise CsvError(f"column {columns.index('') + 1} of the header has no name")
        duplicates = sorted({name for name in columns if columns.count(name) > 1})
        if duplicates:
            raise CsvError(f"duplicate column names: {', '.join(duplicates)}")
        missing = [name for name in required_columns if name not in columns]
        if missing:
            raise CsvError(f"missing required columns: {', '.join(missing)}")
        rows: list[dict[str, str]] = []
        for row in reader:
            if not any(cell.strip() for cell in row):
                continue
            if len(rows) >= limit:
                raise CsvError(
                    f"the file has more than {limit} data rows; split it into files of at most {limit} rows"
                )
            if len(row) > len(columns):
                raise CsvError(
                    f"line {reader.line_num} has {len(row)} fields but the header has {len(columns)} columns"
                )
            cells = [cell.strip() for cell in row] + [""] * (len(columns) - len(row))
            rows.append(dict(zip(columns, cells, strict=True)))
    except csv.Error as exc:
        raise CsvError(f"line {reader.line_num}: {exc}") from None
    return CsvTable(columns=columns, rows=rows)


def csv_escape_cell(value: Any) -> str:
    """The text written for one cell: formula-looking text gets a leading apostrophe."""
    if value is None or value is pd.NA or value is pd.NaT:
        return ""
    if isinstance(value, (bool, np.bool_)):
        return "true" if value else "false"
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        return "" if math.isnan(value) else str(value)
    text = str(value)
    if text.startswith(FORMULA_PREFIXES) and not _PLAIN_NUMBER.match(text):
        return "'" + text
    return text


def _cells(row: Mapping[str, Any] | Sequence[Any], columns: Sequence[str]) -> list[str]:
    if isinstance(row, Mapping):
        return [csv_escape_cell(row.get(column)) for column in columns]
    return [csv_escape_cell(value) for value in row]


def csv_stream(*, columns: Sequence[str], rows: Iterable[Mapping[str, Any] | Sequence[Any]]) -> Iterator[str]:
    """CSV text line by line (header first), for streaming responses of large exports."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([csv_escape_cell(column) for column in columns])
    for row in rows:
        writer.writerow(_cells(row, columns))
        if buffer.tell() >= 16384:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def csv_write(*, columns: Sequence[str], rows: Iterable[Mapping[str, Any] | Sequence[Any]]) -> str:
    """The whole CSV document as one string (rows are dicts keyed by column, or sequences)."""
    return "".join(csv_stream(columns=columns, rows=rows))
