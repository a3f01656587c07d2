"""The WSGI handler: Django's, with a shorter middleware chain for cookie-less calls of the busiest URLs.

Django runs every MIDDLEWARE entry on every request.  For a request without a Cookie header to
a view marked `@cookieless_read` (a GET: the recommendations route) or `@cookieless_stateless`
(any method: the article's seed endpoint), five of them have nothing to do, so such a request
goes through a second chain: the same list, in the same order, without

- WhiteNoise: it answers static-file paths only;
- sessions and authentication: without a cookie the session is new and empty, the user
  anonymous.  A view that needs to know the session's user asks `session_user`, which in the
  short chain raises `FullChainRequired`: the request is then answered again by the full
  chain, so the answer is the same to the header (the session middleware's `Vary: Cookie`);
- CSRF: it checks unsafe methods only, and the marked views are exempt (a stateless view must
  be `csrf_exempt`: it may be posted to);
- messages: API answers add none.

A stateless view never looks at the session or the user (it never asks `session_user`), so a
request it gets, body included, is never handed back to the full chain.  Every other
middleware (HTTPS redirect, host validation, security headers, Content-Length, problem+json
errors) runs in both chains.  Anything else takes the full chain: requests with cookies, other
methods than GET to a read view, and a path that resolves to an unmarked view after all.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TypeVar

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured, MiddlewareNotUsed
from django.core.handlers.base import BaseHandler
from django.core.handlers.exception import convert_exception_to_response
from django.core.handlers.wsgi import WSGIHandler
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.urls import Resolver404, ResolverMatch, get_resolver
from django.utils.module_loading import import_string

# What the short chain leaves out (see the module docstring for why each has nothing to do).
SHORT_CHAIN_SKIPS = frozenset({
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
})

View = TypeVar("View", bound=Callable[..., HttpResponseBase])


class FullChainRequired(Exception):  # noqa: N818 - a signal to the handler, not an error
    """Raised in the short chain by what needs a middleware it skips: the full chain answers instead."""


def cookieless_read(view: View) -> View:
    """Marks a view whose cookie-less GETs may go through the short chain.  It must read the
    session's user through `session_user` only, and call `require_full_chain` before handing
    the request to code that may read more (another view)."""
    view.cookieless_read = True  # type: ignore[attr-defined]
    return view


def cookieless_stateless(view: View) -> View:
    """Marks a CSRF-exempt view that never reads the session, the user or the CSRF token: its
    cookie-less requests of any method may go through the short chain."""
    if not getattr(view, "csrf_exempt", False):
        raise ImproperlyConfigured(f"{view.__name__}: a stateless view in the short chain must be csrf_exempt")
    view.cookieless_stateless = True  # type: ignore[attr-defined]
    return view


def short_chain_allows(view: Callable[..., object] | None, method: str | None) -> bool:
    """Whether a cookie-less `method` request to `view` may take the short chain."""
    return getattr(view, "cookieless_stateless", False) or (method == "GET" and getattr(view, "cookieless_read", False))


def require_full_chain(request: HttpRequest) -> None:
    """Raises `FullChainRequired` in the short chain (the handler marks its requests `short_chain`)."""
    if getattr(request, "short_chain", False):
        raise FullChainRequired


def session_user(request: HttpRequest) -> object | None:
    """`request.user` (None without the authentication middleware); in the short chain, where it
    did not run, raises `FullChainRequired`."""
    require_full_chain(request)
    return getattr(request, "user", None)


class _AnswerAgain(HttpResponse):
    """What the short chain returns for a request the full chain must answer (never sent)."""


class ShortChain(BaseHandler):
    """The middleware `paths` around Django's view handling, for marked views only."""

    def __init__(self, paths: list[str]) -> None:
        self.paths = paths
        self.load_middleware()

    def load_middleware(self, is_async: bool = False) -> None:
        """BaseHandler.load_middleware (synchronous) over `self.paths` instead of settings.MIDDLEWARE."""
        if is_async:
            raise ImproperlyConfigured("the short middleware chain is for WSGI (synchronous) only")
        self._view_middleware, self._template_response_middleware, self._exception_middleware = [], [], []
        handler = convert_exception_to_response(self._get_response)
        for path in reversed(self.paths):
            middleware = import_string(path)
            if not getattr(middleware, "sync_capable", True):
                raise ImproperlyConfigured(f"{path} is async-only: the short middleware chain is synchronous")
            try:
                instance = middleware(handler)
            except MiddlewareNotUsed:
                continue
            if instance is None:
                raise ImproperlyConfigured(f"Middleware factory {path} returned None.")
            if hasattr(instance, "process_view"):
                self._view_middleware.insert(0, instance.process_view)
            if hasattr(instance, "process_template_response"):
                self._template_response_middleware.append(instance.process_template_response)
            if hasattr(instance, "process_exception"):
                self._exception_middleware.append(instance.process_exception)
            handler = convert_exception_to_response(instance)
        self._middleware_chain = handler

    def resolve_request(self, request: HttpRequest) -> ResolverMatch:
        try:
            match = super().resolve_request(request)
        except Resolver404:
            raise FullChainRequired from None
        if not short_chain_allows(match.func, request.method):
            raise FullChainRequired
        return match

    def _get_response(self, request: HttpRequest) -> HttpResponseBase:
        try:
            return super()._get_response(request)
        except FullChainRequired:
            return _AnswerAgain()


class ShortChainHandlerMixin:
    """Answers cookie-less requests of marked views with the short chain (a BaseHandler mixin)."""

    def load_middleware(self, is_async: bool = False) -> None:
        super().load_middleware(is_async)
        self._short_chain = ShortChain([path for path in settings.MIDDLEWARE if path not in SHORT_CHAIN_SKIPS])
        self._short_paths: dict[str, list[tuple[re.Pattern[str], Callable[..., object]]]] = {}

    def short_paths(self) -> list[tuple[re.Pattern[str], Callable[..., object]]]:
        """The patterns (and views) of the marked views among the root URLconf's own (a match is checked on
        resolving)."""
        urlconf = settings.ROOT_URLCONF
        found = self._short_paths.get(urlconf)
        if found is None:
            found = self._short_paths[urlconf] = [
                (pattern.pattern.regex, pattern.callback) for pattern in get_resolver(urlconf).url_patterns
                if short_chain_allows(getattr(pattern, "callback", None), "GET")]  # every marked view takes GETs
        return found

    def get_response(self, request: HttpRequest) -> HttpResponseBase:
        if not request.META.get("HTTP_COOKIE"):
            path = request.path_info[1:]
            for regex, view in self.short_paths():
                if short_chain_allows(view, request.method) and regex.search(path):
                    request.short_chain = True
                    response = self._short_chain.get_response(request)
                    if not isinstance(response, _AnswerAgain):
                        return response
                    if getattr(request, "_read_started", False):  # a stateless view asked for the full chain
                        raise ImproperlyConfigured(f"{view.__name__} read the body, then needed the full chain")
                    request = _request_again(request)
                    break
        return super().get_response(request)


def _request_again(request: HttpRequest) -> HttpRequest:
    """A new request from `request`'s environ, as it came (nothing was read from its body).

    Building a WSGIRequest replaces the environ's PATH_INFO and SCRIPT_NAME with their decoded values; a
    second one reads them as WSGI strings (bytes as ISO-8859-1) again, so they are put back in that form
    (a path such as /api/users/%F2%9E%8F%B7/... is not ISO-8859-1 once decoded).
    """
    environ = request.environ
    for key in ("PATH_INFO", "SCRIPT_NAME"):
        if key in environ:
            environ[key] = environ[key].encode("utf-8").decode("iso-8859-1")
    return type(request)(environ)


class ProjectWSGIHandler(ShortChainHandlerMixin, WSGIHandler):
    """Django's WSGI handler with the short chain (wsgi.py serves it)."""
