"""The test client with the served handler's short middleware chain (handlers.py), and a check that a
request gets the same answer, to the header, through either chain."""

from __future__ import annotations

from django.test import Client
from django.test.client import ClientHandler

from recommender_django.handlers import ShortChainHandlerMixin


class ShortChainClientHandler(ShortChainHandlerMixin, ClientHandler):
    """The test client's handler with the short chain of the served one (ProjectWSGIHandler)."""


def short_client(client: Client) -> Client:
    """A copy of `client` (same cookies) whose requests go through the short chain where it applies."""
    other = Client(enforce_csrf_checks=client.handler.enforce_csrf_checks)
    other.handler = ShortChainClientHandler(enforce_csrf_checks=client.handler.enforce_csrf_checks)
    other.cookies = client.cookies
    return other


def answer(client: Client, method: str, path: str, **extra: str) -> tuple[int, list, list, bytes]:
    response = getattr(client, method)(path, **extra)
    cookies = sorted((name, morsel.OutputString()) for name, morsel in response.cookies.items())
    return response.status_code, sorted(response.items()), cookies, response.content


def both(client: Client, method: str, path: str, **extra: str) -> tuple[int, list, list, bytes]:
    full = answer(client, method, path, **extra)
    short = answer(short_client(client), method, path, **extra)
    assert short == full
    return short
