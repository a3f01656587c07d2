"""The REST API (django-ninja): OpenAPI 3 at /api/openapi.json, docs at /api/docs (local assets)."""
