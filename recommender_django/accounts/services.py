"""API token life cycle: create (shown once), revoke, list, verify."""

from __future__ import annotations

import datetime as dt

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from common.auth import TOKEN_PREFIX, token_generate, token_hash
from recommender_django.accounts.models import ApiToken

LAST_USED_RESOLUTION = dt.timedelta(minutes=5)


def api_token_create(*, name: str) -> tuple[str, bool]:
    """A new token for the user called `name` (created, unable to log in, if missing).

    Returns (token, user_created).  Ratings posted with the token belong to that user.
    """
    name = name.strip()
    if not name or len(name) > 100:
        raise ValueError("the token name must be 1-100 characters (it is the username the token acts as)")
    user_model = get_user_model()
    with transaction.atomic():
        user, created = user_model.objects.get_or_create(username=name)
        if created:
            user.set_unusable_password()
            user.save(update_fields=["password"])
        token = token_generate()
        ApiToken.objects.create(user=user, name=name, token_sha256=token_hash(token))
    return token, created


def api_token_revoke(*, name: str) -> int:
    """Revoke every live token called `name`; returns how many."""
    return ApiToken.objects.filter(name=name, revoked_at__isnull=True).update(revoked_at=timezone.now())


def api_token_list() -> list[dict[str, object]]:
    return [
        {"id": t.id, "name": t.name, "user": t.user.get_username(), "created_at": t.created_at,
         "last_used_at": t.last_used_at, "revoked": t.revoked_at is not None}
        for t in ApiToken.objects.select_related("user")
    ]


def api_token_verify(*, token: str | None) -> AbstractBaseUser | None:
    """The active user behind a live token, or None (unknown, revoked, malformed)."""
    if not token or not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    found = (ApiToken.objects.select_related("user")
             .filter(token_sha256=token_hash(token), revoked_at__isnull=True).first())
    if found is None or not found.user.is_active:
        return None
    now = timezone.now()
    if found.last_used_at is None or now - found.last_used_at > LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=found.pk).update(last_used_at=now)
    return found.user
