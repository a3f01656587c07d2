"""CSV upload and download through a view: clear 415/422 problems, escaped formulas in the download."""

from __future__ import annotations

import io

import pytest

from common.settings import get_settings

CSV = "income,age,note\n1000,30,=HYPERLINK(\"http://evil\")\n2000,40,fine\n"


def test_multipart_upload_is_read_and_download_is_escaped(client) -> None:
    response = client.post(
        "/api/v1/scores/upload", data={"file": (io.BytesIO(CSV.encode()), "applicants.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"] == 'attachment; filename="scores.csv"'
    lines = response.get_data(as_text=True).splitlines()
    assert lines == ["income,age,note", '1000,30,"\'=HYPERLINK(""http://evil"")"', "2000,40,fine"]


def test_raw_text_csv_body_is_accepted(client) -> None:
    response = client.post("/api/v1/scores/upload", data=CSV, content_type="text/csv")
    assert response.status_code == 200 and response.get_data(as_text=True).count("\n") == 3


def test_json_body_is_415(client) -> None:
    assert client.post("/api/v1/scores/upload", json={"income": 1}).status_code == 415


def test_missing_file_is_422_naming_file(client) -> None:
    response = client.post("/api/v1/scores/upload", data={}, content_type="multipart/form-data")
    assert response.status_code == 422
    assert response.get_json()["errors"] == [{"field": "file", "message": "choose a CSV file to upload"}]


def test_too_many_rows_and_missing_columns_are_422(client, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLAPPS_MAX_CSV_ROWS", "1")
    get_settings.cache_clear()
    response = client.post("/api/v1/scores/upload", data=CSV, content_type="text/csv")
    assert response.status_code == 422
    assert "more than 1 data rows" in response.get_json()["errors"][0]["message"]
    response = client.post("/api/v1/scores/upload", data="income\n5\n", content_type="text/csv")
    assert response.get_json()["errors"][0] == {"field": "file", "message": "missing required columns: age"}
