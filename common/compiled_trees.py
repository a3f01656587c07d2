"""Tree ensembles as flat arrays: scikit-learn's exact probabilities for a few rows, without per-tree overhead.

scikit-learn validates the input and calls into Cython once per tree, which
costs milliseconds for a forest of hundreds of trees even for one row.  A
served reading is scored here instead: every tree of every output is exported
once (at training or load time) into one set of flat node arrays, and one loop
compiled by numba walks every requested (row, tree) pair down to its leaf.

Node layout: a node's right child directly follows its left child, so one step
is `node = left[node] + (x[feature[node]] > threshold[node])`; a leaf is its own
left child (threshold +inf).  As in scikit-learn, features are cast to float32
and `x <= threshold` goes left.  The stored arrays keep that (int64, float64)
layout; the walk reads a packed copy made when the trees are loaded: one 8-byte
word per node, uint32 `left << 8 | feature` then the float32 threshold, so a step
is one load instead of three (a third of the cache lines).  The float32 threshold
is the largest float32 <= the float64 one, so `x32 <= t32` exactly when
`float64(x32) <= t64` (scikit-learn's comparison); leaves keep +inf.  A leaf's
word is `index << 8 | 255` instead: its value is entry `index` of a table of the
distinct leaf values (a few hundred for a forest, small enough to stay in the
nearest cache), read from the word just loaded rather than from one more cache
line of the per-node values (about a tenth off a served walk).  Trees of more
than 2**24 nodes, or more than 255 features, are walked in the stored layout
instead.

Occlusions (`predict_occluded`): each row is also scored with groups of its
columns set to reference values (explanations).  A variant row goes the row's
way at every node that does not test one of its columns, so only the row is
walked from the root; at each node it also compares the reference value of the
node's column with the threshold, and where that goes the other way the
variants of the column's groups leave the row's path and walk on from there.
Most variants never leave it: they end in the row's leaf.  The row walks one
tree after the other, testing at each node whether it is a leaf before reading
the row's value: a walk is a chain of dependent loads, and its last step (the
one mispredicted branch of a tree) is then known one load earlier.  For one row
this is faster than moving several walks down in lockstep.

Probabilities are the trees' leaf values averaged exactly as `predict_proba`
averages them, in the same order (a forest adds its trees one by one from 0 and
divides by their number; a soft vote takes the mean of its forests), so they are
bit for bit the same and rounded answers never differ.

The arrays are plain numpy arrays (`CompiledTrees.arrays()`), stored with the
model version by the registry and memory-mapped when it is loaded, so worker
processes share them.  numba is imported, and each walk (`predict`,
`predict_occluded`) compiled (one to two seconds each), on its first call in a
process: serving code calls them once while loading, so with gunicorn's preload
the master compiles and packs the nodes, and its workers inherit both.
"""

from __future__ import annotations

import dataclasses
import functools
import threading
import types
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
from sklearn.dummy import DummyClassifier
from sklearn.ensemble import ExtraTreesClassifier, RandomForestClassifier, VotingClassifier
from sklearn.tree import DecisionTreeClassifier

ARRAY_NAMES = ("feature", "threshold", "left", "value", "tree_root", "tree_member", "member_output", "member_trees",
               "shape")
# Rows go through one tree at a time in blocks of this many rows: the tree's nodes stay in cache for
# the block, and the block's (row, member) sums stay small.
CHUNK_ROWS = 4096
# Walks moved down in lockstep (at least one tree's rows of a block): enough independent loads in flight.
WALKS_IN_FLIGHT = 128
# The outputs asked of each row are kept for calls of up to this many rows (the served shapes).
MASK_CACHE_ROWS = 256
# The packed layout (`left << 8 | feature` in a uint32): node ids below 2**24, features 0..254 (255 marks a leaf).
PACKED_MAX_NODES = 1 << 24
PACKED_MAX_FEATURES = 255
PACKED_LEAF = 255


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
    _masks: dict[Any, np.ndarray] = dataclasses.field(default_factory=dict, repr=False)
    _masks_lock: threading.Lock = dataclasses.field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        # Read-only views of the expected types: stored (memory-mapped, read-only) and freshly compiled
        # trees then share one compiled signature of the walk, and nothing can write into shared pages.
        for name, dtype in _NODE_DTYPES.items():
            object.__setattr__(self, name, _read_only(np.ascontiguousarray(getattr(self, name), dtype=dtype)))

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
    def predict(self, X: Any, *, outputs_by_row: Sequence[Sequence[int]] | None = None) -> np.ndarray:  # noqa: N803
        """P(positive class) of each row (n_rows, n_outputs); outputs not asked for are NaN.

        `outputs_by_row[i]` lists the outputs wanted for row i (default: all of them), so a
        caller can ask many outputs of one row and one output of others in the same walk.
        """
        rows = self._rows(X)
        requested = self._requested(n_rows=rows.shape[0], outputs_by_row=outputs_by_row)
        probabilities = np.empty((rows.shape[0], self.n_outputs))
        packed, nodes, leaf_values = self._nodes
        _walk_compiled("walk", packed=packed)(
            rows, requested, CHUNK_ROWS, nodes, leaf_values, self.tree_root,
            self.tree_member, self.member_output, self.member_trees, self._members_per_output, probabilities,
        )
        return probabilities

    def predict_occluded(self, X: Any, *, occlusions: Occlusions, output: int = 0,  # noqa: N803
                         ) -> tuple[np.ndarray, np.ndarray]:
        """Every output of each row (n_rows, n_outputs), and output `output` of each row with each of
        `occlusions`' groups of columns set to its reference values (n_rows, n_groups).

        Equal, bit for bit, to `predict` of the rows and of the variant rows, but walks only the
        variants whose path can differ from the row's (see the module docstring).
        """
        rows = self._rows(X, finite_checked=False)  # the walk checks (one pass less for a single row)
        if occlusions.occluded.shape[1] != self.n_features or not 0 <= output < self.n_outputs:
            raise ValueError("the occlusions or the output do not match the trees")
        probabilities = np.empty((rows.shape[0], self.n_outputs))
        occluded_probabilities = np.empty((rows.shape[0], occlusions.occluded.shape[0]))
        packed, nodes, leaf_values = self._nodes
        if not _walk_compiled("occlusions", packed=packed)(
            rows, occlusions.reference, occlusions.occluded, occlusions.feature_groups_start,
            occlusions.feature_groups, output, nodes, leaf_values, self.tree_root, self.tree_member,
            self.member_output, self.member_trees, self._members_per_output, probabilities, occluded_probabilities,
        ):
            raise ValueError("features must be finite")
        return probabilities, occluded_probabilities

    def _rows(self, X: Any, *, finite_checked: bool = True) -> np.ndarray:  # noqa: N803
        rows = np.array(X, dtype=np.float32, order="C")  # scikit-learn compares float32 features
        if rows.ndim != 2 or rows.shape[1] != self.n_features:
            raise ValueError(f"expected rows of {self.n_features} features, got shape {rows.shape}")
        if finite_checked and not np.isfinite(rows).all():
            raise ValueError("features must be finite")
        return rows

    @functools.cached_property
    def _nodes(self) -> tuple[bool, tuple[np.ndarray, ...], np.ndarray]:
        """(packed, the node arrays walked, the leaf values they index): (words, thresholds32) and the table of
        distinct leaf values when packed, else (feature, threshold, left) and `value`.

        Packed: two read-only views of one buffer of 8-byte nodes, uint32 `2 * node` = `left << 8 | feature`
        and float32 `2 * node + 1` = the threshold rounded down to a float32, so that comparing float32
        features with it gives the float64 comparison's answer.  A leaf's word is `index << 8 | PACKED_LEAF`:
        its value is `leaf_values[index]`, a table of the distinct leaf values (a few hundred for a forest, so
        it stays in the CPU's nearest cache) read from the word the walk has just loaded, instead of one more
        cache line per tree from the per-node values.  Made once by the process that loads the trees (before
        gunicorn forks its workers): 8 bytes a node instead of the 32 of the stored arrays.
        """
        if self.n_nodes > PACKED_MAX_NODES or self.n_features > PACKED_MAX_FEATURES:
            return False, (self.feature, self.threshold, self.left), self.value
        with np.errstate(over="ignore"):  # beyond float32's range: +-inf, then rounded down as any other
            threshold32 = self.threshold.astype(np.float32)
        rounded_up = threshold32.astype(np.float64) > self.threshold
        threshold32[rounded_up] = np.nextafter(threshold32[rounded_up], np.float32(-np.inf))
        leaves = self.left == np.arange(self.n_nodes)
        leaf_values, leaf_index = np.unique(self.value[leaves], return_inverse=True)
        words = (self.left.astype(np.uint32) << np.uint32(8)) | self.feature.astype(np.uint32)
        words[leaves] = (leaf_index.astype(np.uint32) << np.uint32(8)) | np.uint32(PACKED_LEAF)
        buffer = np.empty(2 * self.n_nodes, dtype=np.uint32)
        buffer[0::2] = words
        buffer[1::2] = threshold32.view(np.uint32)
        return True, (_read_only(buffer), _read_only(buffer.view(np.float32))), _read_only(leaf_values)

    @functools.cached_property
    def _members_per_output(self) -> np.ndarray:
        return _read_only(np.bincount(self.member_output, minlength=self.n_outputs).astype(np.float64))

    def _requested(self, *, n_rows: int, outputs_by_row: Sequence[Sequence[int]] | None) -> np.ndarray:
        """(rows, outputs) bool: the outputs asked of each row; kept for the served shapes."""
        try:
            mask = self._masks.get((n_rows, outputs_by_row))  # a tuple of tuples is its own key
        except TypeError:  # lists or ranges: not hashable
            mask = None
        if mask is not None:
            return mask
        if outputs_by_row is None:
            mask = np.ones((n_rows, self.n_outputs), dtype=bool)
        else:
            outputs_by_row = tuple(tuple(outputs) for outputs in outputs_by_row)
            if len(outputs_by_row) != n_rows:
                raise ValueError(f"outputs_by_row has {len(outputs_by_row)} entries for {n_rows} rows")
            mask = np.zeros((n_rows, self.n_outputs), dtype=bool)
            for row, outputs in enumerate(outputs_by_row):
                mask[row, list(outputs)] = True
        mask = _read_only(mask)  # one signature of the walk whether the mask was cached or not
        if n_rows <= MASK_CACHE_ROWS:
            with self._masks_lock:
                if len(self._masks) > 64:
                    self._masks.clear()
                self._masks[(n_rows, outputs_by_row)] = mask
        return mask


@dataclasses.dataclass(frozen=True, eq=False)
class Occlusions:
    """Groups of columns, each set to reference values in one variant of a row (`CompiledTrees.predict_occluded`)."""

    reference: np.ndarray  # float32 (features,): the value each column takes when its group is occluded
    occluded: np.ndarray  # bool (groups, features): the columns of each group
    feature_groups_start: np.ndarray  # int64 (features + 1,): the groups of column f are
    feature_groups: np.ndarray  # int64: feature_groups[feature_groups_start[f]:feature_groups_start[f + 1]]


def occlusions_make(*, reference: np.ndarray, groups: Sequence[Sequence[int]]) -> Occlusions:
    """One occlusion variant per group: the row with the group's columns set to `reference` (a value per feature)."""
    reference = np.asarray(reference, dtype=np.float64)
    if reference.ndim != 1 or not np.isfinite(reference).all():
        raise ValueError("the reference must be one finite value per feature")
    occluded = np.zeros((len(groups), reference.size), dtype=bool)
    for g, columns in enumerate(groups):
        occluded[g, list(columns)] = True
    features, feature_groups = np.nonzero(occluded.T)  # by feature, then group
    start = np.searchsorted(features, np.arange(reference.size + 1))
    # Cast as rows are: a float32 variant row equals the float32 cast of the float64 variant row.
    return Occlusions(reference=_read_only(reference.astype(np.float32)), occluded=_read_only(occluded),
                      feature_groups_start=_read_only(start.astype(np.int64)),
                      feature_groups=_read_only(feature_groups.astype(np.int64)))


_NODE_DTYPES = {"feature": np.int64, "threshold": np.float64, "left": np.int64, "value": np.float64,
                "tree_root": np.int64, "tree_member": np.int64, "member_output": np.int64,
                "member_trees": np.float64}


def _read_only(array: np.ndarray) -> np.ndarray:
    view = array.view()
    view.flags.writeable = False
    return view


# -- the walks (compiled by numba for each node layout) --------------------------------------
# `_trees_walk` and `_occlusions_walk` read nodes only through the `_NODE_HELPERS`: `_walk_compiled`
# compiles them with the packed or the stored layout's versions of those.  `_node` reads a node once
# per step (left child, feature, threshold): a walk tests `_read_leaf` of what it read (a leaf) before it
# reads the row's value, so the step that ends the walk resolves as early as possible; `_leaf_value` is
# the leaf's value (`value` of the walks: the packed layout's table of leaf values, else per node).

def _packed_is_leaf(nodes: tuple[np.ndarray, np.ndarray], node: int) -> bool:
    return (nodes[0][2 * node] & 255) == PACKED_LEAF


def _packed_read_leaf(node: int, left: int, feature: int) -> bool:
    # what `_node` read says whether the node is a leaf (no second load)
    return feature == PACKED_LEAF


def _packed_leaf_value(nodes: tuple[np.ndarray, np.ndarray], leaf_values: np.ndarray, node: int) -> float:
    return leaf_values[np.int64(nodes[0][2 * node] >> 8)]


def _packed_node(nodes: tuple[np.ndarray, np.ndarray], node: int) -> tuple[int, int, np.float32]:
    word = nodes[0][2 * node]
    return np.int64(word >> 8), np.int64(word & 255), nodes[1][2 * node + 1]


def _packed_goes_right(x: np.float32, threshold: np.float32) -> bool:
    # a float32 value and the float32 threshold rounded down: the float64 comparison's answer
    return x > threshold


def _wide_is_leaf(nodes: tuple[np.ndarray, np.ndarray, np.ndarray], node: int) -> bool:
    return nodes[2][node] == node


def _wide_read_leaf(node: int, left: int, feature: int) -> bool:
    return left == node


def _wide_leaf_value(nodes: tuple[np.ndarray, np.ndarray, np.ndarray], leaf_values: np.ndarray, node: int) -> float:
    return leaf_values[node]


def _wide_node(nodes: tuple[np.ndarray, np.ndarray, np.ndarray], node: int) -> tuple[int, int, float]:
    return nodes[2][node], nodes[0][node], nodes[1][node]


def _wide_goes_right(x: np.float32, threshold: float) -> bool:
    # a float32 value widened exactly, compared with the float64 threshold as scikit-learn does
    return np.float64(x) > threshold


_NODE_HELPERS = ("_is_leaf", "_node", "_read_leaf", "_leaf_value", "_goes_right")
# (plain Python: the stored layout)
_is_leaf, _node, _read_leaf, _leaf_value, _goes_right = (
    _wide_is_leaf, _wide_node, _wide_read_leaf, _wide_leaf_value, _wide_goes_right)


def _trees_walk(
    rows: np.ndarray, requested: np.ndarray, block_rows: int, nodes: tuple[np.ndarray, ...], value: np.ndarray,
    tree_root: np.ndarray, tree_member: np.ndarray, member_output: np.ndarray, member_trees: np.ndarray,
    members_per_output: np.ndarray, probabilities: np.ndarray,
) -> None:
    """Fill `probabilities` (rows, outputs): each requested output's mean of its members' tree means, NaN elsewhere.

    Compiled by numba (`_walk_compiled`).  Walks go down in lockstep, `WALKS_IN_FLIGHT` or more at a time
    (consecutive trees x the block's rows): one walk is a chain of dependent loads, many independent
    ones keep the memory system busy.  Per row, a member's leaf values are then added in tree order from
    0.0 and divided by its number of trees; an output's member probabilities are added in member order
    from 0.0 and divided by its number of members: scikit-learn's forests and soft votes, to the bit.
    """
    n_rows, n_outputs, n_members, n_trees = rows.shape[0], probabilities.shape[1], member_trees.size, tree_root.size
    block = min(block_rows, n_rows)
    capacity = max(WALKS_IN_FLIGHT, block)
    walk_node = np.empty(capacity, dtype=np.int64)
    walk_row = np.empty(capacity, dtype=np.int64)
    walk_member = np.empty(capacity, dtype=np.int64)
    walking = np.empty(capacity, dtype=np.int64)  # the walks not at a leaf yet
    member_sums = np.empty((block, n_members))
    for start in range(0, n_rows, block_rows):
        stop = min(start + block_rows, n_rows)
        member_sums[:] = 0.0
        tree = 0
        while tree < n_trees:
            # The next trees' walks, tree by tree and row by row (so each row's trees stay in order).
            n_walks = 0
            while tree < n_trees and (n_walks == 0 or n_walks + (stop - start) <= capacity):
                member = tree_member[tree]
                output = member_output[member]
                for row in range(start, stop):
                    if requested[row, output]:
                        walk_node[n_walks] = tree_root[tree]
                        walk_row[n_walks] = row
                        walk_member[n_walks] = member
                        n_walks += 1
                tree += 1
            n_walking = 0
            for walk in range(n_walks):
                if not _is_leaf(nodes, walk_node[walk]):
                    walking[n_walking] = walk
                    n_walking += 1
            while n_walking:
                still = 0
                for k in range(n_walking):
                    walk = walking[k]
                    left, feature, threshold = _node(nodes, walk_node[walk])
                    node = left + _goes_right(rows[walk_row[walk], feature], threshold)
                    walk_node[walk] = node
                    if not _is_leaf(nodes, node):
                        walking[still] = walk
                        still += 1
                n_walking = still
            for walk in range(n_walks):
                member_sums[walk_row[walk] - start, walk_member[walk]] += _leaf_value(nodes, value, walk_node[walk])
        for row in range(start, stop):
            for output in range(n_outputs):
                probabilities[row, output] = 0.0
            for member in range(n_members):
                output = member_output[member]
                probabilities[row, output] += member_sums[row - start, member] / member_trees[member]
            for output in range(n_outputs):
                if requested[row, output]:
                    probabilities[row, output] /= members_per_output[output]
                else:
                    probabilities[row, output] = np.nan


def _occlusions_walk(
    rows: np.ndarray, reference: np.ndarray, occluded: np.ndarray, feature_groups_start: np.ndarray,
    feature_groups: np.ndarray, explained: int, nodes: tuple[np.ndarray, ...], value: np.ndarray,
    tree_root: np.ndarray, tree_member: np.ndarray, member_output: np.ndarray, member_trees: np.ndarray,
    members_per_output: np.ndarray, probabilities: np.ndarray, occluded_probabilities: np.ndarray,
) -> bool:
    """Fill `probabilities` (rows, outputs) as `_trees_walk` does for every output, and `occluded_probabilities`
    (rows, groups): output `explained` of the row with the group's columns (`occluded[group]`) set to their
    `reference` values (the groups of column f: `feature_groups[feature_groups_start[f]:feature_groups_start[f + 1]]`).
    False (nothing filled) if a feature is not finite.

    Compiled by numba (`_walk_compiled`).  Each row walks each tree from its root, trees in order.  In a tree
    of the explained output a node also compares its column's reference value with its threshold: where that
    goes the other way (a split), the variants of the column's groups still on the row's path leave it there,
    to the other child, and once the row is at its leaf each such variant walks on from there to its own.  A
    variant never sent elsewhere ends in the row's leaf (most of them).  Leaf values are added per row (and
    variant) in tree order from 0.0, member means in member order, exactly as `_trees_walk` adds them.
    """
    n_rows, n_features = rows.shape
    n_groups = occluded.shape[0]
    n_outputs, n_members, n_trees = probabilities.shape[1], member_trees.size, tree_root.size
    for row in range(n_rows):
        for feature in range(n_features):
            if not np.isfinite(rows[row, feature]):
                return False
    member_sums = np.zeros((n_rows, n_members))
    occluded_sums = np.zeros((n_rows, n_members, n_groups))
    leaves_at = np.empty(n_groups, dtype=np.int64)  # per group: where its variant leaves the row's path (-1: never)
    for tree in range(n_trees):
        member = tree_member[tree]
        if member_output[member] != explained:
            for row in range(n_rows):
                node = tree_root[tree]
                while True:
                    left, feature, threshold = _node(nodes, node)
                    if _read_leaf(node, left, feature):
                        break
                    node = left + _goes_right(rows[row, feature], threshold)
                member_sums[row, member] += _leaf_value(nodes, value, node)
            continue
        for row in range(n_rows):
            node = tree_root[tree]
            n_leaving = 0
            while True:
                left, feature, threshold = _node(nodes, node)
                if _read_leaf(node, left, feature):
                    break
                right = _goes_right(rows[row, feature], threshold)
                reference_right = _goes_right(reference[feature], threshold)
                if right != reference_right:  # (rare) the column's reference value goes the other way
                    if n_leaving == 0:
                        leaves_at[:] = -1
                    for index in range(feature_groups_start[feature], feature_groups_start[feature + 1]):
                        group = feature_groups[index]
                        if leaves_at[group] < 0:  # a variant leaves at the first split of its columns
                            leaves_at[group] = left + reference_right
                            n_leaving += 1
                node = left + right
            leaf_value = _leaf_value(nodes, value, node)
            member_sums[row, member] += leaf_value
            if n_leaving == 0:
                for group in range(n_groups):
                    occluded_sums[row, member, group] += leaf_value
                continue
            for group in range(n_groups):
                variant = leaves_at[group]
                if variant < 0:
                    occluded_sums[row, member, group] += leaf_value
                    continue
                while True:
                    left, feature, threshold = _node(nodes, variant)
                    if _read_leaf(variant, left, feature):
                        break
                    x = reference[feature] if occluded[group, feature] else rows[row, feature]
                    variant = left + _goes_right(x, threshold)
                occluded_sums[row, member, group] += _leaf_value(nodes, value, variant)
    for row in range(n_rows):
        for output in range(n_outputs):
            probabilities[row, output] = 0.0
        for member in range(n_members):
            output = member_output[member]
            probabilities[row, output] += member_sums[row, member] / member_trees[member]
        for output in range(n_outputs):
            probabilities[row, output] /= members_per_output[output]
        for group in range(n_groups):
            total = 0.0
            for member in range(n_members):
                if member_output[member] == explained:
                    total += occluded_sums[row, member, group] / member_trees[member]
            occluded_probabilities[row, group] = total / members_per_output[explained]
    return True


_WALKS = {"walk": _trees_walk, "occlusions": _occlusions_walk}


@functools.cache
def _walk_compiled(name: str, *, packed: bool) -> Callable[..., None]:
    """The walk `name` compiled for the packed or the stored node layout, on first use: importing numba
    (~0.x s) is paid only by processes that predict.

    One thread (no `parallel`): each gunicorn worker is pinned to one; `nogil` lets threaded servers
    walk in several threads at once.
    """
    import numba

    layout = "_packed" if packed else "_wide"
    namespace = dict(_WALKS[name].__globals__)
    for helper in _NODE_HELPERS:
        namespace[helper] = numba.njit(inline="always")(globals()[layout + helper])
    function = _WALKS[name]
    layout_function = types.FunctionType(function.__code__, namespace, function.__name__, function.__defaults__,
                                         function.__closure__)
    return numba.njit(cache=False, nogil=True)(layout_function)


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
