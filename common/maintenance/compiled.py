"""The failure model compiled for serving: a few readings scored and explained in a fraction of a millisecond.

The fitted `FailureRiskModel` keeps its scikit-learn pipelines (batch scoring,
evaluation); its forests (machine failure and each failure mode) are also
exported once into flat node arrays (`common.compiled_trees`), stored with the
model version (`failure_model_arrays`) and memory-mapped when it is loaded.  A
version saved without them is compiled when it is first served.

`FailureScorer.score` walks the base readings through every output's trees and,
for explanations, the occlusion variants (each feature group set to its healthy
reference value) through the machine-failure trees only, all in one walk
(`CompiledTrees.predict_occluded`: a variant is only walked from where it leaves
its reading's path, and most never do).  Its probabilities equal the pipelines'
`predict_proba` bit for bit.  Building a scorer scores the healthy reference
once, with and without explanations, which compiles both walks (numba) and packs
the nodes in the building process: the app factory builds it, so gunicorn's
preloaded master does it once for all its workers.
"""

from __future__ import annotations

import collections
import dataclasses
import functools
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

from common.compiled_trees import CompiledTrees, NotCompilableError, Occlusions, occlusions_make, trees_compile
from common.maintenance.explanations import GROUP_VALUE
from common.maintenance.features import FAILURE_MODES, FAILURE_TARGET, FEATURE_GROUPS, PHYSICS_FEATURES
from common.maintenance.models import FailureRiskModel
from common.registry import LoadedModel

ARRAY_PREFIX = "failure_trees_"
# Output columns of the compiled trees: P(machine failure), then P(each failure mode).
FAILURE_OUTPUTS = ("failure_probability", *FAILURE_MODES.values())
_TARGETS = (FAILURE_TARGET, *FAILURE_MODES)
# Beyond this many readings per call the scikit-learn pipelines are as fast (their cost is per tree, not per row).
COMPILED_MAX_READINGS = 64
_FEATURE_INDEX = {name: i for i, name in enumerate(PHYSICS_FEATURES)}
_SCORERS_KEPT = 4
# A contribution is shown when it moves P(failure) by more than this (it is rounded to 3 decimals).
_CONTRIBUTION_MIN = 10 ** (-3)


def failure_trees_compile(*, model: FailureRiskModel) -> CompiledTrees:
    """Every output's classifier as flat trees (raises NotCompilableError for non-tree classifiers)."""
    classifiers = [
        model.pipelines_[target].named_steps["classifier"] if target in model.pipelines_ else None
        for target in _TARGETS
    ]
    return trees_compile(classifiers=classifiers, n_features=len(PHYSICS_FEATURES), positive_class=1)


def failure_model_arrays(*, model: FailureRiskModel) -> dict[str, np.ndarray]:
    """The compiled trees as registry arrays (`ModelRegistry.save(arrays=...)`); empty if not compilable."""
    try:
        return failure_trees_compile(model=model).arrays(prefix=ARRAY_PREFIX)
    except NotCompilableError:
        return {}


@dataclasses.dataclass(frozen=True, eq=False)
class FailureScores:
    """Probabilities of each reading (rows) and, when explained, the top feature groups of each."""

    probabilities: np.ndarray  # (readings, FAILURE_OUTPUTS)
    top_features: list[list[dict[str, Any]]]


@dataclasses.dataclass(frozen=True, eq=False)
class FailureScorer:
    """The compiled failure model with what explanations need (healthy reference, feature groups)."""

    trees: CompiledTrees
    reference: np.ndarray  # healthy reference value of each physics feature
    groups: tuple[tuple[str, np.ndarray], ...]  # (group name, feature columns)
    value_columns: tuple[int | None, ...]  # per group: the feature shown as its value (None: no value)

    def score(self, *, features: np.ndarray, explain: bool = True, top: int = 3) -> FailureScores:
        """Score physics-feature rows (readings x `PHYSICS_FEATURES`); explain = occlusion top features."""
        rows = np.asarray(features, dtype=np.float64).tolist()
        probabilities, top_features = self.score_rows(rows, explain=explain, top=top)
        return FailureScores(probabilities=np.asarray(probabilities, dtype=np.float64).reshape(len(rows), len(FAILURE_OUTPUTS)),
                             top_features=top_features)

    def score_rows(self, rows: Sequence[Sequence[float]], *, explain: bool = True, top: int = 3,
                   ) -> tuple[list[list[float]], list[list[dict[str, Any]]]]:
        """`score` of rows of physics features as Python values: each row's probabilities (`FAILURE_OUTPUTS`)
        and top features (what serving reads: one walk, one conversion per array, no per-row numpy)."""
        if not rows:
            return [], []
        if not explain:
            return self.trees.predict(rows).tolist(), [[] for _ in rows]
        # Every output of the readings, and P(machine failure) of each reading's variant per feature group.
        probabilities, replaced = self.trees.predict_occluded(rows, occlusions=self._occlusions, output=0)
        probabilities = probabilities.tolist()
        return probabilities, [self._top(features=row, base=p[0], replaced=r, top=top)
                               for row, p, r in zip(rows, probabilities, replaced.tolist(), strict=True)]

    @functools.cached_property
    def _occlusions(self) -> Occlusions:
        """Each group's occlusion variant: its columns set to the healthy reference."""
        return occlusions_make(reference=self.reference, groups=[columns for _name, columns in self.groups])

    def _top(self, *, features: Sequence[float], base: float, replaced: list[float], top: int,
             ) -> list[dict[str, Any]]:
        # Same selection and rounding as `explanations.failure_top_features` (3 decimals): the `top` largest
        # changes, equal ones in group order (a stable sort), those above 10**-3.  Dropping the small ones
        # first keeps the same ones in the same order (every one kept is larger than every one dropped).
        shown = [(g, base - value) for g, value in enumerate(replaced) if abs(base - value) > _CONTRIBUTION_MIN]
        if len(shown) > 1:
            shown.sort(key=_magnitude, reverse=True)
        result = []
        for g, delta in shown[:top]:
            column = self.value_columns[g]
            result.append({"feature": self.groups[g][0],
                           "value": round(features[column], 3) if column is not None else None,
                           "contribution": round(delta, 3)})
        return result


def _magnitude(contribution: tuple[int, float]) -> float:
    return abs(contribution[1])


def failure_scorer_build(*, model: FailureRiskModel, arrays: dict[str, np.ndarray] | None = None) -> FailureScorer | None:
    """The scorer from stored arrays when the version has them, else compiled now; None if not compilable."""
    trees: CompiledTrees | None = None
    if arrays and f"{ARRAY_PREFIX}feature" in arrays:
        trees = CompiledTrees.from_arrays(arrays, prefix=ARRAY_PREFIX)
        if trees.n_features != len(PHYSICS_FEATURES) or trees.n_outputs != len(FAILURE_OUTPUTS):
            trees = None
    if trees is None:
        try:
            trees = failure_trees_compile(model=model)
        except NotCompilableError:
            return None
    reference = np.asarray([model.reference_[name] for name in PHYSICS_FEATURES], dtype=np.float64)
    groups = tuple((name, np.asarray([_FEATURE_INDEX[c] for c in columns])) for name, columns in FEATURE_GROUPS.items())
    value_columns = tuple(_FEATURE_INDEX[GROUP_VALUE[name]] if name in GROUP_VALUE else None for name in FEATURE_GROUPS)
    scorer = FailureScorer(trees=trees, reference=reference, groups=groups, value_columns=value_columns)
    # Compile the walks (a second or two, once per process), pack the nodes and cache the served shapes now,
    # not on a request.
    for explain in (True, False):
        scorer.score(features=reference[None, :], explain=explain)
    return scorer


class _ScorerCache:
    """The scorer of each recently served LoadedModel (a promoted version is a new LoadedModel)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: collections.OrderedDict[int, tuple[LoadedModel, FailureScorer | None]] = collections.OrderedDict()

    def get(self, loaded: LoadedModel) -> FailureScorer | None:
        entry = self._entries.get(id(loaded))
        if entry is not None and entry[0] is loaded:
            return entry[1]
        with self._lock:
            entry = self._entries.get(id(loaded))
            if entry is None or entry[0] is not loaded:
                scorer = failure_scorer_build(model=loaded.artifact, arrays=dict(loaded.arrays))
                # Holding `loaded` keeps its id from being reused by another object while cached.
                self._entries[id(loaded)] = entry = (loaded, scorer)
                while len(self._entries) > _SCORERS_KEPT:
                    self._entries.popitem(last=False)
            return entry[1]


_SCORERS = _ScorerCache()


def failure_scorer(*, loaded: LoadedModel) -> FailureScorer | None:
    """The compiled scorer of a loaded failure model version (built once per loaded version)."""
    return _SCORERS.get(loaded)
