"""`python -m django api_token create|revoke|list [NAME]` (what `mlapps tokens ... recommender` runs)."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser

from common.training import format_table
from recommender_django.accounts.services import api_token_create, api_token_list, api_token_revoke


class Command(BaseCommand):
    help = "Create, revoke or list API tokens (stored as sha256; a token is shown once)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["create", "revoke", "list"])
        parser.add_argument("name", nargs="?", help="username the token acts as (created if missing)")

    def handle(self, *args: object, **options: object) -> None:
        action, name = options["action"], options.get("name")
        if action in ("create", "revoke") and not name:
            raise CommandError(f"api_token {action} needs a NAME")
        if action == "create":
            try:
                token, created = api_token_create(name=str(name))
            except ValueError as exc:
                raise CommandError(str(exc)) from exc
            if created:
                self.stderr.write(f"created user {name!r} (cannot log in; the token acts as this user)")
            self.stdout.write(token)
        elif action == "revoke":
            count = api_token_revoke(name=str(name))
            if not count:
                raise CommandError(f"no live token named {name!r}")
            self.stdout.write(f"revoked {count} token(s) of {name}")
        else:
            rows = api_token_list()
            self.stdout.write(format_table(rows) if rows else "no tokens")
