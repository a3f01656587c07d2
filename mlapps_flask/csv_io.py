"""CSV uploads and downloads in Flask views, on top of the framework-free `common.csv_tools`.

    @api.operation("POST", "/scores/upload", summary="Score a CSV file", request_body=csv_upload_body(),
                   responses={200: csv_download_response()})
    def score_upload():
        table = csv_upload_read(required_columns=FEATURES)     # 415 / 422 with a clear message
        return csv_response(columns=[...], rows=score_rows(table.rows), filename="scores.csv")
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from flask import Response, request, stream_with_context

from common.csv_tools import CsvTable, csv_read_rows, csv_stream

from .errors import ProblemError
from .parsing import body_bytes

CSV_FIELD = "file"


def csv_upload_body(*, description: str = "A CSV file with a header row") -> dict[str, Any]:
    """The OpenAPI requestBody of a CSV upload: multipart field `file`, or the raw `text/csv` body."""
    return {
        "required": True,
        "description": description,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {CSV_FIELD: {"type": "string", "format": "binary", "description": description}},
                    "required": [CSV_FIELD],
                },
                "encoding": {CSV_FIELD: {"contentType": "text/csv, text/plain, application/octet-stream"}},
            },
            "text/csv": {"schema": {"type": "string"}},
        },
    }


def csv_download_response(*, description: str = "CSV file") -> dict[str, Any]:
    """The OpenAPI response object of a CSV download (use it in `responses={200: ...}`)."""
    return {"description": description, "content": {"text/csv": {"schema": {"type": "string"}}}}


def csv_upload_read(*, required_columns: Sequence[str] = (), max_rows: int | None = None) -> CsvTable:
    """The uploaded CSV (multipart field `file`, or a `text/csv` body).

    415 for another content type, 422 naming the `file` field when the file is
    missing or unusable (too many rows, missing columns, not UTF-8...).
    """
    if request.mimetype == "multipart/form-data":
        upload = request.files.get(CSV_FIELD)
        if upload is None or not upload.filename:
            raise _unusable("choose a CSV file to upload")
        data: Any = upload.stream
    elif request.mimetype in ("text/csv", "text/plain", "application/csv"):
        data = body_bytes()
    else:
        sent = request.mimetype or "no Content-Type"
        raise ProblemError(415, f"upload the CSV as multipart/form-data field '{CSV_FIELD}' or as text/csv (got {sent})")
    return csv_read_rows(data=data, required_columns=required_columns, max_rows=max_rows)


def _unusable(message: str) -> ProblemError:
    return ProblemError(
        422, "the CSV file cannot be used", title="Validation failed", errors=[{"field": CSV_FIELD, "message": message}]
    )


def csv_response(
    *, columns: Sequence[str], rows: Iterable[Mapping[str, Any] | Sequence[Any]], filename: str
) -> Response:
    """A streamed CSV download with formula-injection escaping (see `common.csv_tools`)."""
    safe_name = "".join(c for c in filename if c.isalnum() or c in "._-") or "export.csv"
    response = Response(
        stream_with_context(csv_stream(columns=columns, rows=rows)), mimetype="text/csv"
    )
    response.headers["Content-Disposition"] = f'attachment; filename="{safe_name}"'
    return response
