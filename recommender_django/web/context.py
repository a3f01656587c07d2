"""Template context shared by every page."""

from __future__ import annotations

from django.http import HttpRequest


def site(request: HttpRequest) -> dict[str, object]:
    return {"site_name": "mlapps movies"}
