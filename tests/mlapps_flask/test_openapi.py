"""The OpenAPI 3.1 document is valid, lists the declared operations, and /docs is served locally."""

from __future__ import annotations

import re

from openapi_spec_validator import validate


def test_document_is_valid_openapi_31(client) -> None:
    document = client.get("/openapi.json").get_json()
    validate(document)
    assert document["openapi"] == "3.1.0"
    assert document["info"] == {"title": "Toy scoring", "version": "9.9", "description": "Test app"}


def test_document_lists_every_declared_operation(client) -> None:
    paths = client.get("/openapi.json").get_json()["paths"]
    declared = {(path, method) for path, operations in paths.items() for method in operations}
    assert declared == {
        ("/api/v1/scores", "post"),
        ("/api/v1/scores/batch", "post"),
        ("/api/v1/scores/upload", "post"),
        ("/api/v1/items", "get"),
        ("/api/v1/items/{item_id}", "get"),
        ("/api/v1/boom", "get"),
        ("/api/v1/bad-output", "get"),
        ("/healthz", "get"),
        ("/readyz", "get"),
    }


def test_operation_details_come_from_the_declaration(client) -> None:
    document = client.get("/openapi.json").get_json()
    score = document["paths"]["/api/v1/scores"]["post"]
    assert score["summary"] == "Score one applicant" and score["tags"] == ["scoring"]
    assert score["security"] == [{"bearerAuth": []}]
    assert score["requestBody"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/ApplicantIn"}
    assert score["responses"]["200"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/ScoreOut"}
    for status in ("401", "422", "503"):
        assert score["responses"][status]["content"]["application/problem+json"]["schema"] == {
            "$ref": "#/components/schemas/Problem"
        }
    batch = document["paths"]["/api/v1/scores/batch"]["post"]
    assert batch["requestBody"]["content"]["application/json"]["schema"]["type"] == "array"
    assert "201" in batch["responses"] and "security" not in batch
    upload = document["paths"]["/api/v1/scores/upload"]["post"]
    assert set(upload["requestBody"]["content"]) == {"multipart/form-data", "text/csv"}
    assert "text/csv" in upload["responses"]["200"]["content"]

    item = document["paths"]["/api/v1/items/{item_id}"]["get"]
    assert item["parameters"] == [{"name": "item_id", "in": "path", "required": True, "schema": {"type": "integer", "minimum": 0, "maximum": 2**63 - 1}}]
    assert "404" in item["responses"]

    parameters = {p["name"]: p for p in document["paths"]["/api/v1/items"]["get"]["parameters"]}
    assert parameters["page_size"]["schema"]["maximum"] == 200
    assert parameters["tag"]["schema"]["type"] == "array"
    assert document["components"]["schemas"]["ApplicantIn"]["properties"]["age"]["minimum"] == 18
    assert document["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"


def test_paginated_list_and_repeated_query_parameters(client) -> None:
    body = client.get("/api/v1/items?page=3&page_size=20").get_json()
    assert body["page"] == 3 and body["page_size"] == 20 and body["total"] == 45
    assert [item["id"] for item in body["items"]] == [41, 42, 43, 44, 45]
    filtered = client.get("/api/v1/items?tag=item 1&tag=item 2&page_size=200").get_json()
    assert filtered["total"] == 1 + 10 + 1 + 10  # 1, 10-19, 2, 20-29


def test_docs_page_uses_only_local_assets_and_no_inline_script(client) -> None:
    response = client.get("/docs")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", page, flags=re.S)
    assert len(scripts) == 3 and all(not body.strip() for _, body in scripts)
    urls = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert urls and all(url.startswith("/") for url in urls)  # nothing from a CDN
    for url in urls:
        asset = client.get(url)
        assert asset.status_code == 200, url
        assert asset.data
    assert any(url.endswith("swagger-ui-bundle.js") for url in urls)
