"""Training recipes: load -> split -> pipeline -> cross-validated evaluation -> final fit -> register.

Each scenario module defines a `Recipe` and lists it in `RECIPES` (by import
path, so `mlapps train credit` imports only the credit code).  A recipe returns
the versions it registered and a metrics table for the CLI to print.
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.util
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from common.registry import ModelRegistry, ModelVersion

# scenario -> module defining `RECIPE`
RECIPES: dict[str, str] = {
    "credit": "common.credit.training",
    "maintenance": "common.maintenance.training",
    "recommender": "common.recommender.training",
    "seed": "common.seed",
}


@dataclasses.dataclass(frozen=True)
class TrainOptions:
    """What `mlapps train` passes to a recipe; a recipe ignores what does not apply to it."""

    dataset: str | None = None
    algorithm: str | None = None
    seed: int = 42
    promote: bool = True
    quick: bool = False
    csv: str | None = None
    target: str | None = None
    bad_value: str | None = None
    extra: dict[str, str] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class TrainResult:
    versions: list[ModelVersion]
    metrics_rows: list[dict[str, Any]]


class Progress:
    """Progress lines on stderr with elapsed time; silent when `quiet`."""

    def __init__(self, *, scenario: str, quiet: bool = False) -> None:
        self.scenario = scenario
        self.quiet = quiet
        self.started = time.monotonic()

    def __call__(self, message: str) -> None:
        if not self.quiet:
            elapsed = time.monotonic() - self.started
            print(f"[{self.scenario} {elapsed:6.1f}s] {message}", file=sys.stderr, flush=True)


class Recipe(Protocol):
    name: str
    description: str
    models: tuple[str, ...]  # registry names this recipe registers

    def __call__(self, *, options: TrainOptions, registry: ModelRegistry, progress: Progress) -> TrainResult: ...


def get_recipe(scenario: str) -> Recipe:
    try:
        module_name = RECIPES[scenario]
    except KeyError:
        raise LookupError(f"unknown scenario {scenario!r}; choose from {', '.join(sorted(RECIPES))}") from None
    module = importlib.import_module(module_name)
    return module.RECIPE


def available_scenarios() -> list[str]:
    return [name for name, module in RECIPES.items() if importlib.util.find_spec(module) is not None]


def run_training(
    *, scenario: str, options: TrainOptions, registry: ModelRegistry, quiet: bool = False
) -> TrainResult:
    recipe = get_recipe(scenario)
    progress = Progress(scenario=scenario, quiet=quiet)
    progress(f"training: {recipe.description}")
    result = recipe(options=options, registry=registry, progress=progress)
    for version in result.versions:
        progress(f"registered {version.ref}" + (" (promoted)" if options.promote else ""))
    return result


def format_table(rows: Sequence[dict[str, Any]], *, formats: dict[str, Callable[[Any], str]] | None = None) -> str:
    """A plain-text table of dict rows (used by the CLI and the benchmark scripts)."""
    if not rows:
        return "(no rows)"
    formats = formats or {}
    columns: list[str] = []
    for row in rows:
        columns.extend(c for c in row if c not in columns)

    def cell(column: str, value: Any) -> str:
        if column in formats:
            return formats[column](value)
        if isinstance(value, float):
            return f"{value:.4f}"
        return "" if value is None else str(value)

    cells = [[cell(c, row.get(c)) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    line = "  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True))
    rule = "  ".join("-" * w for w in widths)
    body = ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)) for r in cells]
    return "\n".join(row.rstrip() for row in [line, rule, *body])
