"""CSV uploads with a row limit and clear errors; exports that spreadsheets cannot execute."""

from __future__ import annotations

import csv
import io

import numpy as np
import pytest

from common.csv_tools import CsvError, csv_escape_cell, csv_read_rows, csv_stream, csv_write
from common.settings import get_settings


def test_reads_rows_keyed_by_stripped_header() -> None:
    table = csv_read_rows(data="\ufeff income , age\n1000,30\n\n2000, 40\n".encode())
    assert table.columns == ["income", "age"]
    assert table.rows == [{"income": "1000", "age": "30"}, {"income": "2000", "age": "40"}]


def test_semicolon_files_and_quoted_commas() -> None:
    assert csv_read_rows(data="a;b\n1,5;x\n").rows == [{"a": "1,5", "b": "x"}]
    assert csv_read_rows(data='a,b\n"1,5",x\n').rows == [{"a": "1,5", "b": "x"}]


def test_row_limit_defaults_to_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLAPPS_MAX_CSV_ROWS", "3")
    get_settings.cache_clear()
    text = "a\n" + "".join(f"{i}\n" for i in range(4))
    with pytest.raises(CsvError, match="more than 3 data rows"):
        csv_read_rows(data=text)
    assert len(csv_read_rows(data="a\n1\n2\n3\n")) == 3


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"\n\n", "empty"),
        (b"a,a\n1,2\n", "duplicate column names: a"),
        (b"a,,c\n1,2,3\n", "column 2 of the header has no name"),
        (b"a,b\n1,2,3\n", "line 2 has 3 fields"),
        (b"income\n1\n", "missing required columns: age"),
        ("a\nk\u00f6ln\n".encode("latin-1"), "not UTF-8"),
    ],
)
def test_unusable_files_get_a_clear_error(data: bytes, message: str) -> None:
    with pytest.raises(CsvError, match=message):
        csv_read_rows(data=data, required_columns=["income", "age"] if b"income" in data else ())


def test_short_rows_are_padded() -> None:
    assert csv_read_rows(data="a,b,c\n1\n").rows == [{"a": "1", "b": "", "c": ""}]


@pytest.mark.parametrize("text", ["=HYPERLINK(\"http://x\")", "+1+1", "-2+3", "@SUM(A1)", "\t=1", "\r=1", "-", "+"])
def test_formula_like_text_is_escaped(text: str) -> None:
    assert csv_escape_cell(text) == "'" + text


@pytest.mark.parametrize(
    ("value", "written"),
    [("-1.5", "-1.5"), ("+3", "+3"), (-2, "-2"), (-0.25, "-0.25"), (np.float64(0.1), "0.1"), (np.int64(-3), "-3"),
     (None, ""), (float("nan"), ""), (True, "true"), ("plain text", "plain text"), ("a=b", "a=b")],
)
def test_data_values_are_written_unchanged(value: object, written: str) -> None:
    assert csv_escape_cell(value) == written


def test_written_csv_reads_back_with_escaped_formulas() -> None:
    rows = [{"name": "=cmd|'/c calc'!A1", "score": -0.5}, {"name": "Ann, \"Jr\"", "score": None}]
    text = csv_write(columns=["name", "score"], rows=rows)
    parsed = list(csv.reader(io.StringIO(text)))
    assert parsed == [["name", "score"], ["'=cmd|'/c calc'!A1", "-0.5"], ['Ann, "Jr"', ""]]
    assert csv_read_rows(data=text).rows[0]["name"].startswith("'=")


def test_stream_yields_the_same_text_in_chunks() -> None:
    rows = [[i, f"row {i}"] for i in range(3000)]
    chunks = list(csv_stream(columns=["id", "label"], rows=rows))
    assert len(chunks) > 1
    assert "".join(chunks) == csv_write(columns=["id", "label"], rows=rows)
