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
`float64(x32) <= t64` (scikit-learn's comparison); leaves keep +inf.  Trees
of more than 2**24 nodes, or more than 256 features, are walked in the stored
layout instead.

Occlusions (`predict_occluded`): each row is also scored with groups of its
columns set to reference values (explanations).  A variant row goes the row's
way at every node that does not test one of its columns, so only the row is
walked from the root; at each node it also compares the reference value of the
node's column with the threshold, and where that goes the other way the
variants of the column's groups leave the row's path and walk on from there.
Most variants never leave it: they end in the row's leaf.

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
# The packed layout (`left << 8 | feature` in a uint32): node ids below 2**24, features below 2**8.
PACKED_MAX_NODES = 1 << 24
PACKED_MAX_FEATURES = 1 << 8
# Walks of rows moved down in lockstep by `predict_occluded` (trees x rows, each with its variants).
OCCLUSION_WALKS_IN_FLIGHT = 32


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
    def predict(self, X: np.ndarray, *, outputs_by_row: Sequence[Sequence[int]] | None = None) -> np.ndarray:  # noqa: N803
        """P(positive class) of each row (n_rows, n_outputs); outputs not asked for are NaN.

        `outputs_by_row[i]` lists the outputs wanted for row i (default: all of them), so a
        caller can ask many outputs of one row and one output of others in the same walk.
        """
        rows = self._rows(X)
        requested = self._requested(n_rows=rows.shape[0], outputs_by_row=outputs_by_row)
        probabilities = np.empty((rows.shape[0], self.n_outputs))
        packed, nodes = self._nodes
        _walk_compiled("walk", packed=packed)(
            rows, requested, CHUNK_ROWS, nodes, self.value, self.tree_root,
            self.tree_member, self.member_output, self.member_trees, self._members_per_output, probabilities,
        )
        return probabilities

    def predict_occluded(self, X: np.ndarray, *, occlusions: Occlusions, output: int = 0,  # noqa: N803
                         ) -> tuple[np.ndarray, np.ndarray]:
        """Every output of each row (n_rows, n_outputs), and output `output` of each row with each of
        `occlusions`' groups of columns set to its reference values (n_rows, n_groups).

        Equal, bit for bit, to `predict` of the rows and of the variant rows, but walks only the
        variants whose path can differ from the row's (see the module docstring).
        """
        rows = self._rows(X)
        if occlusions.occluded.shape[1] != self.n_features or not 0 <= output < self.n_outputs:
            raise ValueError("the occlusions or the output do not match the trees")
        n_rows, n_groups = rows.shape[0], occlusions.occluded.shape[0]
        variants = np.where(occlusions.occluded, occlusions.reference, rows[:, None, :]).reshape(-1, self.n_features)
        probabilities = np.empty((n_rows, self.n_outputs))
        occluded_probabilities = np.empty((n_rows, n_groups))
        packed, nodes = self._nodes
        _walk_compiled("occlusions", packed=packed)(
            rows, variants, occlusions.reference, occlusions.feature_groups_start, occlusions.feature_groups, output,
            OCCLUSION_WALKS_IN_FLIGHT, self._max_depth, nodes, self.value, self.tree_root, self.tree_member,
            self.member_output, self.member_trees, self._members_per_output, probabilities, occluded_probabilities,
        )
        return probabilities, occluded_probabilities

    def _rows(self, X: np.ndarray) -> np.ndarray:  # noqa: N803
        rows = np.array(X, dtype=np.float32, order="C")  # scikit-learn compares float32 features
        if rows.ndim != 2 or rows.shape[1] != self.n_features:
            raise ValueError(f"expected rows of {self.n_features} features, got shape {rows.shape}")
        if not np.isfinite(rows).all():
            raise ValueError("features must be finite")
        return rows

    @functools.cached_property
    def _nodes(self) -> tuple[bool, tuple[np.ndarray, ...]]:
        """(packed, the node arrays walked): (words, thresholds32) when packed, else (feature, threshold, left).

        Packed: two read-only views of one buffer of 8-byte nodes, uint32 `2 * node` = `left << 8 | feature`
        and float32 `2 * node + 1` = the threshold rounded down to a float32, so that comparing float32
        features with it gives the float64 comparison's answer.  Made once by the process that loads the
        trees (before gunicorn forks its workers): 8 bytes a node instead of the 24 of the stored three arrays.
        """
        if self.n_nodes > PACKED_MAX_NODES or self.n_features > PACKED_MAX_FEATURES:
            return False, (self.feature, self.threshold, self.left)
        with np.errstate(over="ignore"):  # beyond float32's range: +-inf, then rounded down as any other
            threshold32 = self.threshold.astype(np.float32)
        rounded_up = threshold32.astype(np.float64) > self.threshold
        threshold32[rounded_up] = np.nextafter(threshold32[rounded_up], np.float32(-np.inf))
        buffer = np.empty(2 * self.n_nodes, dtype=np.uint32)
        buffer[0::2] = (self.left.astype(np.uint32) << np.uint32(8)) | self.feature.astype(np.uint32)
        buffer[1::2] = threshold32.view(np.uint32)
        return True, (_read_only(buffer), _read_only(buffer.view(np.float32)))

    @functools.cached_property
    def _max_depth(self) -> int:
        """The most steps from a root to a leaf in any tree (sizes the occlusion walks' buffers)."""
        frontier, depth = self.tree_root, 0
        while True:
            internal = frontier[self.left[frontier] != frontier]
            if internal.size == 0:
                return depth
            depth += 1
            frontier = np.concatenate([self.left[internal], self.left[internal] + 1])

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
# compiles them with the packed or the stored layout's versions of those.

def _packed_is_leaf(nodes: tuple[np.ndarray, np.ndarray], node: int) -> bool:
    return np.int64(nodes[0][2 * node] >> 8) == node


def _packed_left(nodes: tuple[np.ndarray, np.ndarray], node: int) -> int:
    return np.int64(nodes[0][2 * node] >> 8)


def _packed_feature(nodes: tuple[np.ndarray, np.ndarray], node: int) -> int:
    return np.int64(nodes[0][2 * node] & 255)


def _packed_right(nodes: tuple[np.ndarray, np.ndarray], node: int, x: np.float32) -> bool:
    # a float32 value and the float32 threshold rounded down: the float64 comparison's answer
    return x > nodes[1][2 * node + 1]


def _packed_child(nodes: tuple[np.ndarray, np.ndarray], node: int, rows: np.ndarray, row: int) -> int:
    word = nodes[0][2 * node]
    return np.int64(word >> 8) + (rows[row, np.int64(word & 255)] > nodes[1][2 * node + 1])


def _wide_is_leaf(nodes: tuple[np.ndarray, np.ndarray, np.ndarray], node: int) -> bool:
    return nodes[2][node] == node


def _wide_left(nodes: tuple[np.ndarray, np.ndarray, np.ndarray], node: int) -> int:
    return nodes[2][node]


def _wide_feature(nodes: tuple[np.ndarray, np.ndarray, np.ndarray], node: int) -> int:
    return nodes[0][node]


def _wide_right(nodes: tuple[np.ndarray, np.ndarray, np.ndarray], node: int, x: np.float32) -> bool:
    # a float32 value widened exactly, compared with the float64 threshold as scikit-learn does
    return np.float64(x) > nodes[1][node]


def _wide_child(nodes: tuple[np.ndarray, np.ndarray, np.ndarray], node: int, rows: np.ndarray, row: int) -> int:
    return nodes[2][node] + (np.float64(rows[row, nodes[0][node]]) > nodes[1][node])


_NODE_HELPERS = ("_is_leaf", "_left", "_feature", "_right", "_child")
# (plain Python: the stored layout)
_is_leaf, _left, _feature, _right, _child = _wide_is_leaf, _wide_left, _wide_feature, _wide_right, _wide_child


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
                    node = _child(nodes, walk_node[walk], rows, walk_row[walk])
                    walk_node[walk] = node
                    if not _is_leaf(nodes, node):
                        walking[still] = walk
                        still += 1
                n_walking = still
            for walk in range(n_walks):
                member_sums[walk_row[walk] - start, walk_member[walk]] += value[walk_node[walk]]
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
    rows: np.ndarray, variants: np.ndarray, reference: np.ndarray, feature_groups_start: np.ndarray,
    feature_groups: np.ndarray, explained: int, walks_in_flight: int, max_depth: int, nodes: tuple[np.ndarray, ...],
    value: np.ndarray, tree_root: np.ndarray, tree_member: np.ndarray, member_output: np.ndarray,
    member_trees: np.ndarray, members_per_output: np.ndarray, probabilities: np.ndarray,
    occluded_probabilities: np.ndarray,
) -> None:
    """Fill `probabilities` (rows, outputs) as `_trees_walk` does for every output, and `occluded_probabilities`
    (rows, groups): output `explained` of `variants[row * groups + group]`, the row with the group's columns set
    to their `reference` values (the groups of column f: `feature_groups[feature_groups_start[f]:
    feature_groups_start[f + 1]]`).

    Compiled by numba (`_walk_compiled`).  Blocks of (tree, row) walks go down in lockstep.  While a row
    walks a tree of the explained output, a node also compares its column's reference value with its
    threshold: when that goes the other way (a split), the variants of the column's groups still on the
    row's path leave it there, to the other child.  A variant never sent elsewhere ends in the row's leaf
    (most of them); the others walk on, in lockstep.  Leaf values are then added per row (and variant) in tree
    order from 0.0, member means in member order, exactly as `_trees_walk` adds them.
    """
    n_rows, n_groups = rows.shape[0], occluded_probabilities.shape[1]
    n_outputs, n_members, n_trees = probabilities.shape[1], member_trees.size, tree_root.size
    trees_per_block = max(1, walks_in_flight // n_rows)
    capacity = trees_per_block * n_rows
    walk_node = np.empty(capacity, dtype=np.int64)
    walk_row = np.empty(capacity, dtype=np.int64)
    walk_member = np.empty(capacity, dtype=np.int64)
    walk_explained = np.empty(capacity, dtype=np.bool_)
    walking = np.empty(capacity, dtype=np.int64)
    # Variant `slot` = walk * n_groups + group: its node once off the row's path (-1 while on it), its row of
    # `variants`.
    variant_node = np.empty(capacity * n_groups, dtype=np.int64)
    variant_row = np.empty(capacity * n_groups, dtype=np.int64)
    variant_walking = np.empty(capacity * n_groups, dtype=np.int64)  # the slots not at a leaf yet
    split_walk = np.empty(capacity * max_depth, dtype=np.int64)  # the nodes of rows' paths where a reference
    split_node = np.empty(capacity * max_depth, dtype=np.int64)  # value goes the other way (at most every node)
    member_sums = np.zeros((n_rows, n_members))
    occluded_sums = np.zeros((n_rows, n_members, n_groups))
    first = 0
    while first < n_trees:
        last = min(first + trees_per_block, n_trees)
        n_walks = 0
        n_walking = 0
        for tree in range(first, last):  # tree by tree and row by row: each row's trees stay in order
            member = tree_member[tree]
            is_explained = member_output[member] == explained
            for row in range(n_rows):
                walk_node[n_walks] = tree_root[tree]
                walk_row[n_walks] = row
                walk_member[n_walks] = member
                walk_explained[n_walks] = is_explained
                if is_explained:
                    for group in range(n_groups):
                        variant_node[n_walks * n_groups + group] = -1
                if not _is_leaf(nodes, tree_root[tree]):
                    walking[n_walking] = n_walks
                    n_walking += 1
                n_walks += 1
        n_splits = 0
        while n_walking:
            still = 0
            for k in range(n_walking):
                walk = walking[k]
                node = walk_node[walk]
                feature = _feature(nodes, node)
                right = _right(nodes, node, rows[walk_row[walk], feature])
                child = _left(nodes, node) + right
                if (right != _right(nodes, node, reference[feature])) & walk_explained[walk]:
                    split_walk[n_splits] = walk  # (rare) the column's reference value goes the other way
                    split_node[n_splits] = node
                    n_splits += 1
                walk_node[walk] = child
                if not _is_leaf(nodes, child):
                    walking[still] = walk
                    still += 1
            n_walking = still
        # The variants still on the row's path at a split leave it there, to the other child; a walk's
        # splits are in path order, so each variant leaves at its first one.
        n_variants = 0
        for split in range(n_splits):
            walk = split_walk[split]
            node = split_node[split]
            feature = _feature(nodes, node)
            for index in range(feature_groups_start[feature], feature_groups_start[feature + 1]):
                slot = walk * n_groups + feature_groups[index]
                if variant_node[slot] < 0:
                    variant_node[slot] = _left(nodes, node) + _right(nodes, node, reference[feature])
                    variant_row[slot] = walk_row[walk] * n_groups + feature_groups[index]
                    variant_walking[n_variants] = slot
                    n_variants += 1
        while n_variants:
            still = 0
            for k in range(n_variants):
                slot = variant_walking[k]
                node = variant_node[slot]
                if not _is_leaf(nodes, node):
                    variant_node[slot] = _child(nodes, node, variants, variant_row[slot])
                    variant_walking[still] = slot
                    still += 1
            n_variants = still
        for walk in range(n_walks):
            row = walk_row[walk]
            member = walk_member[walk]
            leaf_value = value[walk_node[walk]]
            member_sums[row, member] += leaf_value
            if walk_explained[walk]:
                for group in range(n_groups):
                    node = variant_node[walk * n_groups + group]
                    occluded_sums[row, member, group] += leaf_value if node < 0 else value[node]
        first = last
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
