"""`python -m django load_movielens [--dataset movielens-small|movielens-100k] [--if-empty] [--replace]`."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser

from common.datasets import DatasetUnavailableError
from recommender_django.movies.importing import SUPPORTED_DATASETS, DatasetConflictError, movielens_import
from recommender_django.movies.models import Movie


class Command(BaseCommand):
    help = "Import MovieLens movies, raters (as users who cannot log in) and ratings; safe to re-run."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dataset", default="movielens-small", choices=SUPPORTED_DATASETS)
        parser.add_argument("--if-empty", action="store_true", help="do nothing when movies are already loaded")
        parser.add_argument("--replace", action="store_true", help="swap out another MovieLens dataset")

    def handle(self, *args: object, **options: object) -> None:
        if options["if_empty"] and Movie.objects.exists():
            self.stdout.write(f"movies already loaded ({Movie.objects.count()}); nothing to do")
            return
        try:
            summary = movielens_import(
                dataset=str(options["dataset"]), replace=bool(options["replace"]),
                progress=lambda message: self.stderr.write(f"[load_movielens] {message}"),
            )
        except (DatasetConflictError, DatasetUnavailableError, ValueError) as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(self.style.SUCCESS(
            f"{summary.dataset}: {summary.movies_created} movies, {summary.users_created} users, "
            f"{summary.ratings_created} ratings created in {summary.seconds:.1f}s"
        ))
