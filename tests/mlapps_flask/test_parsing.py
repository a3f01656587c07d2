"""Reading JSON bodies: sized bodies, chunked bodies, the size limit, and re-reading after parsing."""

from __future__ import annotations

import io

import pytest
from flask import Flask, request

import mlapps_flask as mf


@pytest.fixture()
def echo_app() -> Flask:
    app = Flask(__name__)
    app.config.update(SECRET_KEY="x" * 40, MAX_CONTENT_LENGTH=200)
    mf.init_app(app, title="t", version="1", description="d", docs=False)

    api = mf.ApiBlueprint("echo", __name__, url_prefix="/api")

    @api.post("/echo")
    def echo() -> dict:
        document = mf.json_body()
        return {"document": document, "raw": request.get_data(as_text=True)}

    @api.post("/rows")
    def rows() -> dict:
        return {"rows": len(mf.csv_upload_read().rows)}

    app.register_blueprint(api)
    return app


def test_a_sized_body_is_parsed_and_still_readable_by_the_view(echo_app: Flask) -> None:
    body = b'{"a": [1, 2.5, "x"]}'
    answer = echo_app.test_client().post("/api/echo", data=body, content_type="application/json")
    assert answer.status_code == 200
    assert answer.get_json() == {"document": {"a": [1, 2.5, "x"]}, "raw": body.decode()}


def test_a_chunked_body_without_length_is_parsed(echo_app: Flask) -> None:
    body = b'{"chunked": true}'
    answer = echo_app.test_client().post(
        "/api/echo", input_stream=io.BytesIO(body), content_type="application/json",
        headers={"Transfer-Encoding": "chunked"}, environ_overrides={"wsgi.input_terminated": True},
    )
    assert answer.status_code == 200
    assert answer.get_json()["document"] == {"chunked": True}


@pytest.mark.parametrize("chunked", [False, True])
def test_a_body_over_the_limit_is_413(echo_app: Flask, chunked: bool) -> None:
    body = b'{"a": "' + b"x" * 300 + b'"}'
    extra = ({"input_stream": io.BytesIO(body), "headers": {"Transfer-Encoding": "chunked"},
              "environ_overrides": {"wsgi.input_terminated": True}} if chunked else {"data": body})
    answer = echo_app.test_client().post("/api/echo", content_type="application/json", **extra)
    assert answer.status_code == 413
    assert answer.get_json()["status"] == 413


def test_an_empty_sized_body_is_400(echo_app: Flask) -> None:
    answer = echo_app.test_client().post("/api/echo", data=b"", content_type="application/json")
    assert answer.status_code == 400 and "empty" in answer.get_json()["detail"]


@pytest.mark.parametrize("chunked", [False, True])
def test_a_csv_body_is_read_whole_or_refused_with_413(echo_app: Flask, chunked: bool) -> None:
    small, large = b"a,b\n1,2\n3,4\n", b"a,b\n" + b"1,2\n" * 100
    answers = []
    for body in (small, large):
        extra = ({"input_stream": io.BytesIO(body), "headers": {"Transfer-Encoding": "chunked"},
                  "environ_overrides": {"wsgi.input_terminated": True}} if chunked else {"data": body})
        answers.append(echo_app.test_client().post("/api/rows", content_type="text/csv", **extra))
    assert answers[0].status_code == 200 and answers[0].get_json() == {"rows": 2}
    assert answers[1].status_code == 413  # never a silently truncated file
