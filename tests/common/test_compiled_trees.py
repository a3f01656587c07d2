"""Compiled tree ensembles give scikit-learn's probabilities exactly, for any rows, after a trip through the registry."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sklearn.dummy import DummyClassifier
from sklearn.ensemble import ExtraTreesClassifier, RandomForestClassifier, VotingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.tree import DecisionTreeClassifier

from common.compiled_trees import CompiledTrees, NotCompilableError, occlusions_make, trees_compile
from common.registry import ModelRegistry

FEATURES = 6


def _data(*, rows: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(rows, FEATURES)) * [1.0, 10.0, 100.0, 0.01, 1e4, 3.0]  # noqa: N806
    X[:, 5] = np.round(X[:, 5])  # a few repeated values, like product types and counts
    y = ((X[:, 0] + X[:, 1] / 10 + rng.normal(scale=0.7, size=rows)) > 1.2).astype(int)
    return X, y


@pytest.fixture(scope="module")
def fitted() -> dict[str, object]:
    X, y = _data(rows=1500, seed=1)  # noqa: N806
    labels = np.where(y == 1, "fails", "ok")
    return {
        "random forest": RandomForestClassifier(n_estimators=30, random_state=0).fit(X, y),
        "extra trees": ExtraTreesClassifier(n_estimators=20, min_samples_leaf=2, random_state=0).fit(X, y),
        "soft vote": VotingClassifier([("rf", RandomForestClassifier(n_estimators=10, random_state=1)),
                                       ("et", ExtraTreesClassifier(n_estimators=15, random_state=1))],
                                      voting="soft").fit(X, y),
        "tree": DecisionTreeClassifier(max_depth=8, random_state=0).fit(X, y),
        "prior": DummyClassifier(strategy="prior").fit(X, y),
        "string labels": RandomForestClassifier(n_estimators=10, random_state=2).fit(X, labels),
    }


def _positive(classifier: object, X: np.ndarray, positive: object = 1) -> np.ndarray:  # noqa: N803
    return classifier.predict_proba(X)[:, list(classifier.classes_).index(positive)]


def _thresholds(classifier: object) -> list[tuple[int, float]]:
    trees = []
    for member in getattr(classifier, "estimators_", [classifier]):
        trees.extend(getattr(member, "estimators_", [member]))
    pairs = []
    for tree in trees:
        internal = tree.tree_.children_left != -1
        pairs.extend(zip(tree.tree_.feature[internal].tolist(), tree.tree_.threshold[internal].tolist(), strict=True))
    return pairs


@pytest.mark.parametrize("name", ["random forest", "extra trees", "soft vote", "tree", "prior"])
def test_compiled_probabilities_equal_predict_proba_on_thousands_of_rows(fitted: dict, name: str) -> None:
    classifier = fitted[name]
    compiled = trees_compile(classifiers=[classifier], n_features=FEATURES)
    X, _ = _data(rows=4000, seed=2)  # noqa: N806
    np.testing.assert_allclose(compiled.predict(X)[:, 0], _positive(classifier, X), rtol=0, atol=0)


def test_values_exactly_at_and_next_to_thresholds_go_the_way_scikit_learn_sends_them(fitted: dict) -> None:
    """scikit-learn compares float32-cast features with float64 thresholds (`x <= t` goes left)."""
    classifier = fitted["soft vote"]
    compiled = trees_compile(classifiers=[classifier], n_features=FEATURES)
    base, _ = _data(rows=1, seed=3)
    rows = []
    for feature, threshold in _thresholds(classifier)[:400]:
        for value in (threshold, np.float32(threshold), np.nextafter(np.float32(threshold), np.float32(np.inf)),
                      np.nextafter(np.float32(threshold), np.float32(-np.inf)), np.nextafter(threshold, np.inf)):
            row = base[0].copy()
            row[feature] = value
            rows.append(row)
    X = np.asarray(rows)  # noqa: N806
    np.testing.assert_allclose(compiled.predict(X)[:, 0], _positive(classifier, X), rtol=0, atol=0)


def test_several_outputs_in_one_walk_and_only_the_outputs_asked_for(fitted: dict) -> None:
    classifiers = [fitted["random forest"], fitted["extra trees"], fitted["string labels"], None]
    compiled = trees_compile(classifiers=classifiers, n_features=FEATURES, positive_class=1)
    X, _ = _data(rows=50, seed=4)  # noqa: N806
    every = compiled.predict(X)
    np.testing.assert_allclose(every[:, 0], _positive(fitted["random forest"], X), rtol=0, atol=0)
    np.testing.assert_allclose(every[:, 1], _positive(fitted["extra trees"], X), rtol=0, atol=0)
    assert (every[:, 2] == 0).all()  # "fails"/"ok" labels: no class 1
    assert (every[:, 3] == 0).all()  # no classifier: always 0

    some = compiled.predict(X[:3], outputs_by_row=[(0, 1), (1,), ()])
    np.testing.assert_array_equal(some[0, :2], every[0, :2])
    assert some[1, 1] == every[1, 1] and np.isnan(some[1, [0, 2, 3]]).all()
    assert np.isnan(some[2]).all()


def test_string_labels_compile_for_the_named_positive_class(fitted: dict) -> None:
    classifier = fitted["string labels"]
    compiled = trees_compile(classifiers=[classifier], n_features=FEATURES, positive_class="fails")
    X, _ = _data(rows=500, seed=5)  # noqa: N806
    np.testing.assert_allclose(compiled.predict(X)[:, 0], _positive(classifier, X, "fails"), rtol=0, atol=0)


def test_compiled_trees_survive_the_registry_memory_mapped(fitted: dict, tmp_path: Path) -> None:
    compiled = trees_compile(classifiers=[fitted["soft vote"], fitted["prior"]], n_features=FEATURES)
    registry = ModelRegistry(tmp_path / "models")
    registry.save(name="toy", artifact={"kind": "toy"}, metadata={}, arrays=compiled.arrays(prefix="toy_"))
    loaded = registry.load("toy")
    assert isinstance(loaded.arrays["toy_threshold"], np.memmap)
    restored = CompiledTrees.from_arrays(loaded.arrays, prefix="toy_")
    assert np.shares_memory(restored.threshold, loaded.arrays["toy_threshold"])  # mapped, not copied
    X, _ = _data(rows=300, seed=6)  # noqa: N806
    np.testing.assert_array_equal(restored.predict(X), compiled.predict(X))
    assert (restored.n_trees, restored.n_outputs) == (compiled.n_trees, 2)


def test_what_cannot_be_compiled_or_scored_is_refused(fitted: dict) -> None:
    X, y = _data(rows=200, seed=7)  # noqa: N806
    with pytest.raises(NotCompilableError):
        trees_compile(classifiers=[LogisticRegression().fit(X[:, :2], y)], n_features=FEATURES)
    with pytest.raises(NotCompilableError):
        trees_compile(classifiers=[VotingClassifier([("t", DecisionTreeClassifier())], voting="hard").fit(X, y)],
                      n_features=FEATURES)
    compiled = trees_compile(classifiers=[fitted["tree"]], n_features=FEATURES)
    with pytest.raises(ValueError, match="finite"):
        compiled.predict(np.full((1, FEATURES), np.nan))
    with pytest.raises(ValueError, match="6 features"):
        compiled.predict(np.zeros((1, 4)))


def test_big_batches_are_walked_in_chunks_with_the_same_result(fitted: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    import common.compiled_trees as compiled_trees

    classifier = fitted["random forest"]
    compiled = trees_compile(classifiers=[classifier, fitted["extra trees"]], n_features=FEATURES)
    X, _ = _data(rows=1000, seed=8)  # noqa: N806
    whole = compiled.predict(X)
    monkeypatch.setattr(compiled_trees, "CHUNK_ROWS", 64)
    np.testing.assert_array_equal(compiled.predict(X), whole)
    np.testing.assert_array_equal(compiled.predict(X, outputs_by_row=[(1,)] * 1000)[:, 1], whole[:, 1])
    np.testing.assert_array_equal(whole[:, 0], _positive(classifier, X))


def test_stored_and_freshly_compiled_trees_share_one_compiled_walk(fitted: dict, tmp_path: Path) -> None:
    from common.compiled_trees import _walk_compiled

    compiled = trees_compile(classifiers=[fitted["random forest"], fitted["prior"]], n_features=FEATURES)
    registry = ModelRegistry(tmp_path / "models")
    registry.save(name="toy", artifact={"kind": "toy"}, metadata={}, arrays=compiled.arrays(prefix="toy_"))
    restored = CompiledTrees.from_arrays(registry.load("toy").arrays, prefix="toy_")
    X, _ = _data(rows=20, seed=9)  # noqa: N806
    for trees in (compiled, restored):  # every served shape: all outputs, some outputs, one row, a slice
        trees.predict(X)
        trees.predict(X[:2], outputs_by_row=[(0,), (0, 1)])
        trees.predict(X[:1].astype(np.float32))
        trees.predict(X[::2, :])
    assert len(_walk_compiled("walk", packed=True).signatures) == 1  # compiled once: a warm-up call covers them all


def test_importing_compiled_trees_leaves_numba_to_the_first_prediction() -> None:
    import subprocess
    import sys

    code = "import sys, common.compiled_trees; assert 'numba' not in sys.modules, 'numba imported'"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).resolve().parents[2])


# -- packed node layout and occlusions ------------------------------------------------------

def _unpacked(compiled: CompiledTrees) -> CompiledTrees:
    """The same trees, walked in the stored (int64, float64) layout."""
    return CompiledTrees(**{name: getattr(compiled, name) for name in ("feature", "threshold", "left", "value",
                            "tree_root", "tree_member", "member_output", "member_trees", "n_features", "n_outputs")})


def _edge_rows(classifier: object, *, base: np.ndarray, count: int, seed: int) -> np.ndarray:
    """Rows with one feature exactly at, or one float32 step around, a threshold of the classifier."""
    rng = np.random.default_rng(seed)
    pairs = _thresholds(classifier)
    rows = []
    for i in rng.choice(len(pairs), size=count):
        feature, threshold = pairs[i]
        row = base[rng.integers(len(base))].copy()
        t32 = np.float32(threshold)
        row[feature] = rng.choice([threshold, t32, np.nextafter(t32, np.float32(np.inf)),
                                   np.nextafter(t32, np.float32(-np.inf)), np.nextafter(threshold, -np.inf)])
        rows.append(row)
    return np.asarray(rows)


def test_packed_thresholds_are_the_largest_float32_not_above_the_float64_ones(fitted: dict) -> None:
    import common.compiled_trees as compiled_trees

    compiled = trees_compile(classifiers=[fitted["soft vote"], fitted["random forest"], fitted["prior"]],
                             n_features=FEATURES)
    packed, (words, thresholds), leaf_values = compiled._nodes
    assert packed and words.dtype == np.uint32 and thresholds.dtype == np.float32 and not words.flags.writeable
    t32 = thresholds[1::2]
    internal = compiled.left != np.arange(compiled.n_nodes)
    np.testing.assert_array_equal(words[0::2][internal] >> 8, compiled.left[internal])
    np.testing.assert_array_equal(words[0::2][internal] & 255, compiled.feature[internal])
    # A leaf's word: the index of its value in the table of distinct leaf values, and the leaf mark.
    assert ((words[0::2][~internal] & 255) == compiled_trees.PACKED_LEAF).all()
    np.testing.assert_array_equal(leaf_values[words[0::2][~internal] >> 8], compiled.value[~internal])
    assert leaf_values.size == np.unique(compiled.value[~internal]).size and not leaf_values.flags.writeable
    assert (t32[internal].astype(np.float64) <= compiled.threshold[internal]).all()
    above = np.nextafter(t32[internal], np.float32(np.inf)).astype(np.float64)
    assert (above > compiled.threshold[internal]).all()  # the next float32 up is beyond the threshold
    assert np.isposinf(t32[~internal]).all()  # leaves


def test_the_packed_and_the_stored_layouts_walk_to_the_same_leaves(fitted: dict, monkeypatch: pytest.MonkeyPatch,
                                                                   ) -> None:
    import common.compiled_trees as compiled_trees

    classifier = fitted["soft vote"]
    compiled = trees_compile(classifiers=[classifier, fitted["extra trees"], fitted["prior"]], n_features=FEATURES)
    assert compiled._nodes[0] is True
    monkeypatch.setattr(compiled_trees, "PACKED_MAX_NODES", compiled.n_nodes - 1)  # one node too many: not packed
    wide = _unpacked(compiled)
    assert wide._nodes[0] is False
    X, _ = _data(rows=600, seed=21)  # noqa: N806
    X = np.concatenate([X, _edge_rows(classifier, base=X, count=2000, seed=22)])  # noqa: N806
    np.testing.assert_array_equal(compiled.predict(X), wide.predict(X))
    np.testing.assert_array_equal(compiled.predict(X)[:, 0], _positive(classifier, X))
    occlusions = occlusions_make(reference=X[0], groups=[(0,), (1, 2), (5,)])
    for a, b in zip(compiled.predict_occluded(X[:40], occlusions=occlusions),
                    wide.predict_occluded(X[:40], occlusions=occlusions), strict=True):
        np.testing.assert_array_equal(a, b)


def _occluded_by_variant_rows(compiled: CompiledTrees, X: np.ndarray, *, reference: np.ndarray,  # noqa: N803
                              groups: list[tuple[int, ...]], output: int) -> tuple[np.ndarray, np.ndarray]:
    """What `predict_occluded` replaces: every variant row built and walked from the root."""
    occluded = np.zeros((len(groups), X.shape[1]), dtype=bool)
    for g, columns in enumerate(groups):
        occluded[g, list(columns)] = True
    variants = np.where(occluded, reference, X[:, None, :]).reshape(-1, X.shape[1])
    rows = np.concatenate([X, variants])
    predicted = compiled.predict(rows, outputs_by_row=[tuple(range(compiled.n_outputs))] * len(X)
                                 + [(output,)] * len(variants))
    return predicted[:len(X)], predicted[len(X):, output].reshape(len(X), len(groups))


@pytest.mark.parametrize("output", [0, 1])
def test_occlusions_equal_walking_every_variant_row_and_scikit_learn(fitted: dict, output: int) -> None:
    classifiers = [fitted["soft vote"], fitted["extra trees"], fitted["prior"], None]
    compiled = trees_compile(classifiers=classifiers, n_features=FEATURES)
    X, _ = _data(rows=300, seed=23)  # noqa: N806
    edges = _edge_rows(classifiers[output], base=X, count=300, seed=24)
    # Groups of one column, several, overlapping ones, none and all; references inside the data, exactly at
    # thresholds and far outside.
    groups = [(0,), (1,), (0, 1), (2, 3, 4), (), (5,), tuple(range(FEATURES)), (1, 5)]
    references = [np.median(X, axis=0), edges[0], edges[1], np.full(FEATURES, 1e6)]
    for reference in references:
        occlusions = occlusions_make(reference=reference, groups=groups)
        for rows in (X[:1], X[:7], X[:64], edges[:50], np.concatenate([edges[50:], X[64:]])):
            probabilities, occluded = compiled.predict_occluded(rows, occlusions=occlusions, output=output)
            expected, expected_occluded = _occluded_by_variant_rows(compiled, rows, reference=reference,
                                                                    groups=groups, output=output)
            np.testing.assert_array_equal(probabilities, expected)
            np.testing.assert_array_equal(occluded, expected_occluded)
        rows = edges[:40]
        variants = np.where(occlusions.occluded, reference, rows[:, None, :])  # (rows, groups, features)
        _probabilities, occluded = compiled.predict_occluded(rows, occlusions=occlusions, output=output)
        for g in range(len(groups)):
            np.testing.assert_array_equal(occluded[:, g], _positive(classifiers[output], variants[:, g, :]))
    # an empty group, and a group equal to the reference where the row already is: the row itself
    np.testing.assert_array_equal(occluded[:, groups.index(())], _positive(classifiers[output], rows))


def test_variants_whose_columns_are_not_on_the_path_keep_the_rows_leaf(fitted: dict) -> None:
    """A tree that never tests columns 2-5: occluding them changes nothing; occluding column 0 or 1 may."""
    X, y = _data(rows=800, seed=25)  # noqa: N806
    tree = DecisionTreeClassifier(random_state=0).fit(X[:, :2], y)
    padded = DecisionTreeClassifier(random_state=0).fit(np.column_stack([X[:, :2], np.zeros((800, 4))]), y)
    assert set(padded.tree_.feature[padded.tree_.feature >= 0].tolist()) <= {0, 1}
    compiled = trees_compile(classifiers=[padded], n_features=FEATURES)
    rows = X[:200]
    reference = np.full(FEATURES, -50.0)  # far left of every threshold of columns 0 and 1
    occlusions = occlusions_make(reference=reference, groups=[(2,), (3, 4, 5), (0,), (1,), (0, 1)])
    probabilities, occluded = compiled.predict_occluded(rows, occlusions=occlusions)
    np.testing.assert_array_equal(occluded[:, 0], probabilities[:, 0])
    np.testing.assert_array_equal(occluded[:, 1], probabilities[:, 0])
    for g, columns in ((2, [0]), (3, [1]), (4, [0, 1])):
        variant = rows[:, :2].copy()
        variant[:, columns] = -50.0
        np.testing.assert_array_equal(occluded[:, g], _positive(tree, variant))
    assert (occluded[:, 4] != probabilities[:, 0]).any()  # the path changes for some rows


def test_occlusions_refuse_what_does_not_match(fitted: dict) -> None:
    compiled = trees_compile(classifiers=[fitted["tree"]], n_features=FEATURES)
    with pytest.raises(ValueError, match="finite"):
        occlusions_make(reference=np.full(FEATURES, np.nan), groups=[(0,)])
    with pytest.raises(ValueError, match="match"):
        compiled.predict_occluded(np.zeros((1, FEATURES)), occlusions=occlusions_make(reference=np.zeros(4),
                                                                                        groups=[(0,)]))
    with pytest.raises(ValueError, match="match"):
        compiled.predict_occluded(np.zeros((1, FEATURES)), occlusions=occlusions_make(
            reference=np.zeros(FEATURES), groups=[(0,)]), output=1)
    with pytest.raises(ValueError, match="finite"):
        compiled.predict_occluded(np.full((1, FEATURES), np.inf), occlusions=occlusions_make(
            reference=np.zeros(FEATURES), groups=[(0,)]))


def test_occlusions_refuse_features_that_are_not_finite_as_float32(fitted: dict) -> None:
    """The walk checks the float32 rows it compares: NaN, infinities and float64 values beyond float32's range."""
    compiled = trees_compile(classifiers=[fitted["tree"]], n_features=FEATURES)
    occlusions = occlusions_make(reference=np.zeros(FEATURES), groups=[(0,), (1, 2)])
    X, _ = _data(rows=5, seed=26)  # noqa: N806
    for value in (np.nan, -np.inf, 1e39):
        bad = X.copy()
        bad[3, 4] = value
        with pytest.raises(ValueError, match="finite"), np.errstate(over="ignore"):  # 1e39: inf as a float32
            compiled.predict_occluded(bad, occlusions=occlusions)
    compiled.predict_occluded(X, occlusions=occlusions)  # the same rows, finite: answered


def test_occlusions_of_rows_given_as_python_lists_equal_those_of_arrays(fitted: dict) -> None:
    compiled = trees_compile(classifiers=[fitted["soft vote"], fitted["extra trees"]], n_features=FEATURES)
    occlusions = occlusions_make(reference=np.zeros(FEATURES), groups=[(0,), (1, 2), (5,)])
    X, _ = _data(rows=9, seed=27)  # noqa: N806
    for rows in (X[:1], X):
        for a, b in zip(compiled.predict_occluded(rows.tolist(), occlusions=occlusions, output=1),
                        compiled.predict_occluded(rows, occlusions=occlusions, output=1), strict=True):
            np.testing.assert_array_equal(a, b)
