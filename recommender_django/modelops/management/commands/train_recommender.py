"""`python -m django train_recommender [--algorithm svd] [--quick] [--if-missing] [--no-promote]`."""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from common.recommender.rating import ALGORITHMS, DEFAULT_ALGORITHM
from common.registry import registry_from_settings
from common.training import format_table
from recommender_django.modelops.models import TrainingRun
from recommender_django.modelops.services import recommender_train_from_database, training_run_execute


class Command(BaseCommand):
    help = "Train the recommender on the ratings in the database and register a new version."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--algorithm", default=DEFAULT_ALGORITHM, choices=sorted(ALGORITHMS),
                            help=f"rating algorithm (default {DEFAULT_ALGORITHM})")
        parser.add_argument("--quick", action="store_true", help="one evaluation fold, fewer epochs")
        parser.add_argument("--seed", type=int, default=42)
        parser.add_argument("--no-promote", action="store_true", help="register without making it current")
        parser.add_argument("--if-missing", action="store_true", help="do nothing when a current version exists")
        parser.add_argument("--run", type=int, help="execute a queued training run (admin retraining)")

    def handle(self, *args: object, **options: object) -> None:
        if options["run"]:
            run = training_run_execute(run_id=int(options["run"]))  # type: ignore[arg-type]
            self.stdout.write(f"run {run.id}: {run.status} {run.version}")
            if run.status != TrainingRun.Status.SUCCEEDED:
                raise CommandError(run.log.splitlines()[-1] if run.log else "training failed")
            return
        name = settings.RECOMMENDER_MODEL_NAME
        registry = registry_from_settings()
        if options["if_missing"] and registry.current_version(name):
            self.stdout.write(f"{name}@{registry.current_version(name)} is current; nothing to do")
            return
        try:
            version, rows = recommender_train_from_database(
                algorithm=str(options["algorithm"]), seed=int(options["seed"]), quick=bool(options["quick"]),  # type: ignore[arg-type]
                promote=not options["no_promote"],
                progress=lambda message: self.stderr.write(f"[train_recommender] {message}"),
            )
        except (ValueError, LookupError) as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(format_table(rows))
        self.stdout.write(self.style.SUCCESS(f"registered {version.ref}" + ("" if options["no_promote"] else " (current)")))
