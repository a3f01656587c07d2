"""The WSGI handler: Django's, with a shorter middleware chain for cookie-less reads of the busiest URL.

Django runs every MIDDLEWARE entry on every request.  For a GET without a Cookie header to a
view marked `@cookieless_read` (the recommendations route), five of them have nothing to do,
so such a request goes through a second chain: the same list, in the same order, without

- WhiteNoise: it answers static-file paths only;
- sessions and authentication: without a cookie the session is new and empty, the user
  anonymous.  A view that needs to know the session's user asks `session_user`, which in the
  short chain raises `FullChainRequired`: the request is then answered again by the full
  chain, so the answer is the same to the header (the session middleware's `Vary: Cookie`);
- CSRF: it checks unsafe methods only (and the marked views are exempt);
- messages: API answers add none.

Every other middleware (HTTPS redirect, host validation, security headers, Content-Length,
problem+json errors) runs in both chains.  Anything else takes the full chain: other methods,
requests with cookies, and a path that resolves to an unmarked view after all.
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
        if not getattr(match.func, "cookieless_read", False):
            raise FullChainRequired
        return match

    def _get_response(self, request: HttpRequest) -> HttpResponseBase:
        try:
            return super()._get_response(request)
        except FullChainRequired:
            return _AnswerAgain()


class ShortChainHandlerMixin:
    """Answers cookie-less GETs of `@cookieless_read` views with the short chain (a BaseHandler mixin)."""

    def load_middleware(self, is_async: bool = False) -> None:
        super().load_middleware(is_async)
        self._short_chain = ShortChain([path for path in settings.MIDDLEWARE if path not in SHORT_CHAIN_SKIPS])
        self._short_paths: dict[str, list[re.Pattern[str]]] = {}

    def short_paths(self) -> list[re.Pattern[str]]:
        """The patterns of the marked views among the root URLconf's own (a match is checked on resolving)."""
        urlconf = settings.ROOT_URLCONF
        found = self._short_paths.get(urlconf)
        if found is None:
            found = self._short_paths[urlconf] = [
                pattern.pattern.regex for pattern in get_resolver(urlconf).url_patterns
                if getattr(getattr(pattern, "callback", None), "cookieless_read", False)]
        return found

    def get_response(self, request: HttpRequest) -> HttpResponseBase:
        if request.method == "GET" and not request.META.get("HTTP_COOKIE"):
            path = request.path_info[1:]
            for regex in self.short_paths():
                if regex.search(path):
                    request.short_chain = True
                    response = self._short_chain.get_response(request)
                    if not isinstance(response, _AnswerAgain):
                        return response
                    request = type(request)(request.environ)  # as it came: nothing was read from it
                    break
        return super().get_response(request)


class ProjectWSGIHandler(ShortChainHandlerMixin, WSGIHandler):
    """Django's WSGI handler with the short chain (wsgi.py serves it)."""
