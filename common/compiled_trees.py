"""Tree ensembles as flat arrays: scikit-learn's exact probabilities for a few rows, without per-tree overhead.

scikit-learn validates the input and calls into Cython once per tree, which
costs milliseconds for a forest of hundreds of trees even for one row.  A
served reading is scored here instead: every tree of every output is exported
once (at training or load time) into one set of flat node arrays, and all
(row, tree) pairs walk down together, one numpy step per tree level.

Node layout: a node's right child directly follows its left child, so one step
is `node = left[node] + (x[feature[node]] > threshold[node])`.  A leaf has
threshold +inf and is its own left child, so a finished walk stays put.  As in
scikit-learn, features are cast to float32 and `x <= threshold` goes left.
Probabilities are the trees' leaf values averaged exactly as `predict_proba`
averages them, in the same order (a forest adds its trees one by one from 0 and
divides by their number; a soft vote takes the mean of its forests), so they are
bit for bit the same and rounded answers never differ.

The arrays are plain numpy arrays (`CompiledTrees.arrays()`), stored with the
model version by the registry and memory-mapped when it is loaded, so worker
processes share them.
"""

from __future__ import annotations

import dataclasses
import functools
import threading
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from sklearn.dummy import DummyClassifier
from sklearn.ensemble import ExtraTreesClassifier, RandomForestClassifier, VotingClassifier
from sklearn.tree import DecisionTreeClassifier

ARRAY_NAMES = ("feature", "threshold", "left", "value", "tree_root", "tree_member", "member_output", "member_trees",
               "shape")
# Finished walks are dropped every this many levels: fewer pairs to move down, but each drop costs
# numpy calls (measured: 6-14 are equally good for 300-2,000 walks of 20-35 levels).
COMPACT_EVERY = 8
# Lane plans are kept for calls of up to this many rows (the served shapes); bigger ones go in chunks.
PLAN_CACHE_ROWS = 256
CHUNK_ROWS = 4096


class NotCompilableError(TypeError):
    """The classifier is not a single-output tree ensemble that this module can compile."""


@dataclasses.dataclass(frozen=True)
class _Tree:
    """One exported tree in the compiled layout (node ids local to the tree)."""

    feature: np.ndarray
    threshold: np.ndarray
    left: np.ndarray
    value: np.ndarray


def _tree_export(*, tree: DecisionTreeClassifier, class_index: int) -> _Tree:
    """A fitted tree's nodes renumbered so that siblings are adjacent (left child id + 1 = right child id)."""
    nodes = tree.tree_
    if nodes.n_outputs != 1:
        raise NotCompilableError("only single-output trees can be compiled")
    children_left, children_right = nodes.children_left, nodes.children_right
    internal = np.flatnonzero(children_left != -1)
    new_id = np.zeros(nodes.node_count, dtype=np.int64)
    # The root keeps id 0; the k-th internal node's children become 2k + 1 and 2k + 2.
    new_id[children_left[internal]] = 1 + 2 * np.arange(internal.size)
    new_id[children_right[internal]] = 2 + 2 * np.arange(internal.size)
    feature = np.zeros(nodes.node_count, dtype=np.int64)
    threshold = np.full(nodes.node_count, np.inf)
    left = np.arange(nodes.node_count, dtype=np.int64)  # (new ids) a leaf is its own left child
    feature[new_id[internal]] = nodes.feature[internal]
    threshold[new_id[internal]] = nodes.threshold[internal]
    left[new_id[internal]] = new_id[children_left[internal]]
    value = np.zeros(nodes.node_count)
    leaves = np.flatnonzero(children_left == -1)
    # `predict_proba` of a tree returns its leaf's stored class fractions as they are.
    value[new_id[leaves]] = nodes.value[leaves, 0, class_index]
    return _Tree(feature=feature, threshold=threshold, left=left, value=value)


def _constant_tree(*, value: float) -> _Tree:
    return _Tree(feature=np.zeros(1, dtype=np.int64), threshold=np.full(1, np.inf),
                 left=np.zeros(1, dtype=np.int64), value=np.full(1, float(value)))


def _classifier_members(*, classifier: Any, positive_class: Any) -> list[list[_Tree]]:
    """The members (forests) whose mean is `classifier.predict_proba(X)[:, positive class]`; each member's
    probability is the mean of its trees.  None, or a classifier without the positive class: always 0."""
    if classifier is None:
        return [[_constant_tree(value=0.0)]]
    classes = list(classifier.classes_)
    if positive_class not in classes:
        return [[_constant_tree(value=0.0)]]
    class_index = classes.index(positive_class)
    if isinstance(classifier, DummyClassifier):
        if classifier.strategy != "prior" or getattr(classifier, "n_outputs_", 1) != 1:
            raise NotCompilableError("only DummyClassifier(strategy='prior') compiles")
        return [[_constant_tree(value=float(classifier.class_prior_[class_index]))]]
    if isinstance(classifier, VotingClassifier):
        if classifier.voting != "soft" or classifier.weights is not None:
            raise NotCompilableError("only unweighted soft voting compiles")
        members: list[list[_Tree]] = []
        for member in classifier.estimators_:
            # Members are fitted on the encoded labels: column `class_index` is the positive class.
            inner = _classifier_members(classifier=member, positive_class=member.classes_[class_index])
            if len(inner) != 1:
                raise NotCompilableError("a soft vote of soft votes does not compile")
            members.extend(inner)
        return members
    if isinstance(classifier, (RandomForestClassifier, ExtraTreesClassifier)):
        if classifier.n_outputs_ != 1:
            raise NotCompilableError("only single-output forests compile")
        return [[_tree_export(tree=tree, class_index=class_index) for tree in classifier.estimators_]]
    if isinstance(classifier, DecisionTreeClassifier):
        return [[_tree_export(tree=classifier, class_index=class_index)]]
    raise NotCompilableError(f"{type(classifier).__name__} cannot be compiled to flat trees")


@dataclasses.dataclass(frozen=True)
class _LanePlan:
    """Where each (row, tree) walk starts, which row it reads and which (row, member) sum it adds to."""

    root: np.ndarray
    row_offset: np.ndarray | None  # None: a single row, nothing to offset
    bucket: np.ndarray  # (row, member) sum each walk adds to, in tree order
    member_bucket: np.ndarray  # (row, output) sum each (row, member) probability adds to
    requested: np.ndarray  # (rows, outputs) bool


@dataclasses.dataclass(frozen=True, eq=False)
class CompiledTrees:
    """Several tree-ensemble outputs in one node layout; `predict` walks them all at once."""

    feature: np.ndarray  # int64 per node: the feature tested (0 at leaves)
    threshold: np.ndarray  # float64 per node: go right when x > threshold (+inf at leaves)
    left: np.ndarray  # int64 per node: the left child; the right child is left + 1; a leaf points to itself
    value: np.ndarray  # float64 per node: P(positive class) at a leaf
    tree_root: np.ndarray  # int64 per tree
    tree_member: np.ndarray  # int64 per tree: its member (a forest); a member's probability is its trees' mean
    member_output: np.ndarray  # int64 per member: the output it belongs to; an output is its members' mean
    member_trees: np.ndarray  # float64 per member: its number of trees
    n_features: int
    n_outputs: int
    _plans: dict[Any, _LanePlan] = dataclasses.field(default_factory=dict, repr=False)
    _plans_lock: threading.Lock = dataclasses.field(default_factory=threading.Lock, repr=False)

    # -- persistence ------------------------------------------------------------------------
    def arrays(self, *, prefix: str = "") -> dict[str, np.ndarray]:
        """The arrays to store with the model version (`ModelRegistry.save(arrays=...)`)."""
        values = {name: getattr(self, name) for name in ARRAY_NAMES if name != "shape"}
        values["shape"] = np.asarray([self.n_features, self.n_outputs], dtype=np.int64)
        return {f"{prefix}{name}": array for name, array in values.items()}

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray], *, prefix: str = "") -> CompiledTrees:
        """The compiled trees from stored (possibly memory-mapped) arrays; raises KeyError when absent."""
        # np.asarray drops the memmap subclass (numpy's per-operation subclass hooks cost microseconds).
        loaded = {name: np.asarray(arrays[f"{prefix}{name}"]) for name in ARRAY_NAMES}
        n_features, n_outputs = (int(v) for v in loaded.pop("shape"))
        return cls(**loaded, n_features=n_features, n_outputs=n_outputs)

    @property
    def n_trees(self) -> int:
        return int(self.tree_root.size)

    @property
    def n_nodes(self) -> int:
        return int(self.feature.size)

    # -- prediction -------------------------------------------------------------------------
    def predict(self, X: np.ndarray, *, outputs_by_row: Sequence[Sequence[int]] | None = None) -> np.ndarray:  # noqa: N803
        """P(positive class) of each row (n_rows, n_outputs); outputs not asked for are NaN.

        `outputs_by_row[i]` lists the outputs wanted for row i (default: all of them), so a
        caller can ask many outputs of one row and one output of others in the same walk.
        """
        rows = np.asarray(X, dtype=np.float32)  # scikit-learn compares float32 features
        if rows.ndim != 2 or rows.shape[1] != self.n_features:
            raise ValueError(f"expected rows of {self.n_features} features, got shape {rows.shape}")
        if not np.isfinite(rows).all():
            raise ValueError("features must be finite")
        n_rows = rows.shape[0]
        if n_rows > CHUNK_ROWS:  # bounded memory for batches: (rows x trees) walks at a time
            wanted = [None] * n_rows if outputs_by_row is None else list(outputs_by_row)
            return np.concatenate([
                self.predict(rows[start:start + CHUNK_ROWS],
                             outputs_by_row=None if outputs_by_row is None else wanted[start:start + CHUNK_ROWS])
                for start in range(0, n_rows, CHUNK_ROWS)
            ])
        try:
            plan = self._plans.get((n_rows, outputs_by_row))  # a tuple of tuples is its own key
        except TypeError:  # lists or ranges: not hashable
            plan = None
        if plan is None:
            key = (n_rows, None if outputs_by_row is None else tuple(tuple(o) for o in outputs_by_row))
            plan = self._plans.get(key) or self._plan(key=key)
        values = rows.astype(np.float64).ravel()
        leaves = self._walk(values=values, root=plan.root, row_offset=plan.row_offset)
        # bincount adds in lane order (trees in order, from 0) like scikit-learn's forests and soft votes.
        members = self.member_output.size
        member_sums = np.bincount(plan.bucket, weights=self.value[leaves], minlength=n_rows * members)
        member_probabilities = member_sums.reshape(n_rows, members) / self.member_trees
        output_sums = np.bincount(plan.member_bucket, weights=member_probabilities.ravel(),
                                  minlength=n_rows * self.n_outputs)
        result = output_sums.reshape(n_rows, self.n_outputs) / self._members_per_output
        result[~plan.requested] = np.nan
        return result

    @functools.cached_property
    def _members_per_output(self) -> np.ndarray:
        return np.bincount(self.member_output, minlength=self.n_outputs).astype(np.float64)

    def _plan(self, *, key: tuple[int, Any]) -> _LanePlan:
        n_rows, outputs_by_row = key
        wanted = [range(self.n_outputs)] * n_rows if outputs_by_row is None else outputs_by_row
        if len(wanted) != n_rows:
            raise ValueError(f"outputs_by_row has {len(wanted)} entries for {n_rows} rows")
        requested = np.zeros((n_rows, self.n_outputs), dtype=bool)
        lane_rows, lane_trees = [], []
        for row, outputs in enumerate(wanted):
            requested[row, list(outputs)] = True
            trees = np.flatnonzero(requested[row][self.member_output[self.tree_member]])
            lane_rows.append(np.full(trees.size, row, dtype=np.int64))
            lane_trees.append(trees)
        row_index, tree_index = np.concatenate(lane_rows), np.concatenate(lane_trees)
        plan = _LanePlan(
            root=self.tree_root[tree_index],
            row_offset=None if n_rows == 1 else row_index * self.n_features,
            bucket=row_index * self.member_output.size + self.tree_member[tree_index],
            member_bucket=(np.arange(n_rows)[:, None] * self.n_outputs + self.member_output[None, :]).ravel(),
            requested=requested,
        )
        if n_rows <= PLAN_CACHE_ROWS:
            with self._plans_lock:
                if len(self._plans) > 64:
                    self._plans.clear()
                self._plans[key] = plan
        return plan

    def _walk(self, *, values: np.ndarray, root: np.ndarray, row_offset: np.ndarray | None) -> np.ndarray:
        """The leaf each walk ends in: every walk moves one level per step; finished ones drop out."""
        feature, threshold, left = self.feature, self.threshold, self.left
        leaves = root.copy()
        lanes = np.arange(root.size)
        node, offset = root, row_offset
        level = 0
        while node.size:
            if offset is None:
                node = left[node] + (values[feature[node]] > threshold[node])
            else:
                node = left[node] + (values[offset + feature[node]] > threshold[node])
            level += 1
            if level % COMPACT_EVERY == 0:
                done = left[node] == node
                if done.any():
                    leaves[lanes[done]] = node[done]
                    walking = ~done
                    lanes, node = lanes[walking], node[walking]
                    offset = None if offset is None else offset[walking]
        return leaves


def trees_compile(*, classifiers: Sequence[Any], n_features: int, positive_class: Any = 1) -> CompiledTrees:
    """One output per classifier: P(`positive_class`) of a forest, a soft vote of forests, a tree or a prior.

    A classifier without the positive class (or None) gives an output that is always 0.

    Raises NotCompilableError for anything else (the caller keeps scikit-learn for it).
    """
    features, thresholds, lefts, values, roots, tree_member, member_output, member_trees = ([] for _ in range(8))
    offset = 0
    for output, classifier in enumerate(classifiers):
        for member in _classifier_members(classifier=classifier, positive_class=positive_class):
            for tree in member:
                if int(tree.feature.max()) >= n_features:
                    raise NotCompilableError(f"a tree tests feature {int(tree.feature.max())} of {n_features}")
                features.append(tree.feature)
                thresholds.append(tree.threshold)
                lefts.append(tree.left + offset)
                values.append(tree.value)
                roots.append(offset)
                tree_member.append(len(member_output))
                offset += tree.feature.size
            member_output.append(output)
            member_trees.append(len(member))
    return CompiledTrees(
        feature=np.concatenate(features), threshold=np.concatenate(thresholds), left=np.concatenate(lefts),
        value=np.concatenate(values), tree_root=np.asarray(roots, dtype=np.int64),
        tree_member=np.asarray(tree_member, dtype=np.int64), member_output=np.asarray(member_output, dtype=np.int64),
        member_trees=np.asarray(member_trees, dtype=np.float64), n_features=int(n_features), n_outputs=len(classifiers),
    )
