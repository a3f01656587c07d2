"""Rating prediction with Surprise, exported to compact arrays that also serve new users.

Every algorithm is fitted with Surprise, then turned into a `RatingPredictor`: a small
object naming the arrays it needs (stored through the registry's `arrays=`, so they are
memory-mapped and shared between worker processes).  A predictor answers two questions:

- for a user the model was trained on, whose ratings have not changed since: Surprise's
  own estimate (exactly, for SVD, SVD++, BaselineOnly and NMF; for item-based KNNBaseline
  from the stored top neighbours of every item);
- for anyone else (a new user, or one who rated since training): a fold-in estimate,
  solving the user's bias and factors from their current ratings with the item
  parameters held fixed, so a rating posted a second ago counts at once.

Algorithms without item parameters to fold in against (user-based k-NN, SlopeOne,
CoClustering, ...) keep the fitted Surprise object for trained users and fold new users
into a companion SVD fitted on the same ratings.
"""

from __future__ import annotations

import abc
import dataclasses
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # serving never needs pandas: only fitting takes DataFrames
    import pandas as pd

# Hyper-parameters chosen on ml-latest-small (grid over factors, epochs, learning rate
# and regularisation, 5-fold CV); the same values are used unchanged on MovieLens 100K.
TUNED_SVD = {"n_factors": 150, "n_epochs": 80, "lr_all": 0.005, "reg_all": 0.08}
ITEM_KNN_BASELINE = {"k": 40, "sim_options": {"name": "pearson_baseline", "user_based": False, "shrinkage": 100}}
MAX_STORED_MATRIX_BYTES = 400 * 1024 * 1024


@dataclasses.dataclass(frozen=True)
class AlgorithmSpec:
    """One selectable rating algorithm."""

    name: str
    label: str
    surprise_class: str
    params: Mapping[str, Any]  # our defaults; Surprise's own defaults when empty
    export: str  # "factor", "item-knn", "surprise" (kept whole) or "blend"
    description: str
    published_rmse_100k: float | None = None  # Surprise's benchmark table, 5-fold, default parameters
    members: tuple[tuple[str, float], ...] = ()  # for blends: (algorithm, weight)


ALGORITHMS: dict[str, AlgorithmSpec] = {
    spec.name: spec
    for spec in (
        AlgorithmSpec("svd", "SVD (tuned)", "SVD", TUNED_SVD, "factor",
                      "Biased matrix factorisation (Funk SVD), tuned hyper-parameters.", 0.934),
        AlgorithmSpec("svd-default", "SVD (Surprise defaults)", "SVD", {}, "factor",
                      "Biased matrix factorisation with Surprise's default parameters.", 0.934),
        AlgorithmSpec("svdpp", "SVD++", "SVDpp", {"cache_ratings": True}, "factor",
                      "SVD with implicit feedback (Koren 2008); slow to train.", 0.919),
        AlgorithmSpec("knnbaseline", "KNNBaseline (item-based)", "KNNBaseline", ITEM_KNN_BASELINE, "item-knn",
                      "Item-item k-NN on baseline residuals, Pearson-baseline similarity.", 0.931),
        AlgorithmSpec("baselineonly", "BaselineOnly", "BaselineOnly", {}, "factor",
                      "Global mean + user bias + item bias (ALS).", 0.944),
        AlgorithmSpec("nmf", "NMF", "NMF", {}, "factor", "Non-negative matrix factorisation.", 0.963),
        AlgorithmSpec("slopeone", "SlopeOne", "SlopeOne", {}, "surprise", "Slope One item deviations.", 0.946),
        AlgorithmSpec("knnbasic", "KNNBasic", "KNNBasic", {}, "surprise", "User-based k-NN, MSD similarity.", 0.98),
        AlgorithmSpec("knnwithmeans", "KNNWithMeans", "KNNWithMeans", {}, "surprise",
                      "User-based k-NN on mean-centred ratings.", 0.951),
        AlgorithmSpec("knnwithzscore", "KNNWithZScore", "KNNWithZScore", {}, "surprise",
                      "User-based k-NN on z-scored ratings.", 0.951),
        AlgorithmSpec("coclustering", "CoClustering", "CoClustering", {}, "surprise",
                      "Co-clustering of users and items.", 0.963),
        AlgorithmSpec("normalpredictor", "NormalPredictor", "NormalPredictor", {}, "surprise",
                      "Random ratings from the training distribution (a floor, not a model).", 1.518),
        AlgorithmSpec("blend", "Blend: SVD (tuned) + KNNBaseline", "", {}, "blend",
                      "Mean of the tuned SVD and item-based KNNBaseline estimates.",
                      members=(("svd", 0.5), ("knnbaseline", 0.5))),
    )
}
DEFAULT_ALGORITHM = "svd"


def algorithm_get(*, name: str) -> AlgorithmSpec:
    try:
        return ALGORITHMS[name.lower()]
    except KeyError:
        raise LookupError(f"unknown algorithm {name!r}; choose from {', '.join(ALGORITHMS)}") from None


def surprise_algorithm_create(
    *, name: str, seed: int | None, library_defaults: bool = False, quick: bool = False
) -> Any:
    """A fresh Surprise algorithm object (not for blends).

    `library_defaults` uses Surprise's own defaults (to reproduce its published table);
    `quick` caps the epochs (tests and demos).
    """
    import surprise

    spec = algorithm_get(name=name)
    if spec.export == "blend":
        raise ValueError("a blend is not a single Surprise algorithm")
    params: dict[str, Any] = {} if library_defaults else {
        k: (dict(v) if isinstance(v, Mapping) else v) for k, v in spec.params.items()
    }
    if spec.name == "svdpp":
        params.setdefault("cache_ratings", True)
    cls = getattr(surprise, spec.surprise_class)
    if spec.surprise_class in ("SVD", "SVDpp", "NMF", "CoClustering"):
        params.setdefault("random_state", seed)
        if quick:
            params["n_epochs"] = min(int(params.get("n_epochs", 20)), 15)
    if spec.surprise_class.startswith("KNN") or spec.surprise_class == "BaselineOnly":
        params.setdefault("verbose", False)
    return cls(**params)


def surprise_dataset(*, ratings: pd.DataFrame, rating_scale: tuple[float, float]) -> Any:
    """A Surprise `Dataset` from a frame with columns user_id, movie_id, rating."""
    from surprise import Dataset, Reader

    return Dataset.load_from_df(ratings[["user_id", "movie_id", "rating"]], Reader(rating_scale=rating_scale))


def stored_matrix_bytes(*, spec: AlgorithmSpec, n_users: int, n_items: int) -> int:
    """Size of the square matrix a kept-whole Surprise algorithm pickles (0 when none)."""
    if spec.export != "surprise":
        return 0
    if spec.surprise_class == "SlopeOne":
        return 2 * 8 * n_items * n_items
    if spec.surprise_class.startswith("KNN"):
        user_based = dict(spec.params.get("sim_options", {})).get("user_based", True)
        n = n_users if user_based else n_items
        return 8 * n * n
    return 0


# --------------------------------------------------------------------------- user ratings
@dataclasses.dataclass(frozen=True)
class UserRatings:
    """One user's current ratings, as indices into the model's item universe."""

    items: np.ndarray  # int64 universe indices
    values: np.ndarray  # float64 stars

    @classmethod
    def empty(cls) -> UserRatings:
        return cls(items=np.empty(0, dtype=np.int64), values=np.empty(0, dtype=np.float64))

    def fingerprint(self) -> tuple[int, float, int]:
        """(count, sum of stars, sum of item indices): equal to the training-time one when nothing changed."""
        return (int(self.items.size), round(float(self.values.sum()), 6), int(self.items.sum()))


@dataclasses.dataclass(frozen=True)
class Estimate:
    value: float
    source: str  # "trained", "fold-in" or "baseline" (movie unknown to the rating model)


@dataclasses.dataclass(frozen=True)
class Fitted:
    """What a trained predictor needs at serving time besides its arrays."""

    predictor: RatingPredictor
    arrays: dict[str, np.ndarray]


class RatingPredictor(abc.ABC):
    """Base class: shared user table and the trained-or-fold-in dispatch; subclasses implement `estimate`."""

    prefix: str
    global_mean: float
    rating_scale: tuple[float, float]

    def __getstate__(self) -> dict[str, Any]:
        # Bound arrays (leading underscore) are never pickled: they live in the registry's .npy files.
        return {key: value for key, value in self.__dict__.items() if not key.startswith("_")}

    def bind(self, arrays: Mapping[str, np.ndarray]) -> None:
        self._users = arrays[f"{self.prefix}_user_keys"]
        self._user_count = arrays[f"{self.prefix}_user_count"]
        self._user_sum = arrays[f"{self.prefix}_user_sum"]
        self._user_items = arrays[f"{self.prefix}_user_item_sum"]

    def trained_row(self, *, user_key: int | None, ratings: UserRatings) -> int | None:
        """The user's row in the trained tables when their ratings are unchanged since training."""
        if user_key is None or self._users.size == 0:
            return None
        row = int(np.searchsorted(self._users, user_key))
        if row >= self._users.size or int(self._users[row]) != user_key:
            return None
        count, total, item_sum = ratings.fingerprint()
        if (int(self._user_count[row]), int(self._user_items[row])) != (count, item_sum):
            return None
        if abs(float(self._user_sum[row]) - total) > 1e-6:
            return None
        return row

    @abc.abstractmethod
    def estimate(self, *, user_key: int | None, ratings: UserRatings, item: int | None) -> Estimate:
        """The rating this user would give `item` (a trained user's own estimate, else folded in)."""

    def estimate_many(self, *, user_key: int | None, ratings: UserRatings, items: np.ndarray) -> np.ndarray:
        """Estimates of several movies for one user (subclasses fold the user in once)."""
        return np.array([self.estimate(user_key=user_key, ratings=ratings, item=int(i)).value for i in items])

    def clip(self, value: float) -> float:
        low, high = self.rating_scale
        return float(min(max(value, low), high))


def _user_table(
    *, prefix: str, trainset: Any, item_universe_of: Callable[[int], int]
) -> dict[str, np.ndarray]:
    """Per trained user: raw key, and the fingerprint of the ratings the model saw."""
    rows = []
    for inner_user, user_ratings in trainset.ur.items():
        raw = int(trainset.to_raw_uid(inner_user))
        items = [item_universe_of(inner_item) for inner_item, _ in user_ratings]
        rows.append((raw, len(user_ratings), round(float(sum(r for _, r in user_ratings)), 6), int(sum(items))))
    rows.sort()
    table = np.array(rows, dtype=np.float64).reshape(-1, 4)
    return {
        f"{prefix}_user_keys": table[:, 0].astype(np.int64),
        f"{prefix}_user_count": table[:, 1].astype(np.int64),
        f"{prefix}_user_sum": table[:, 2],
        f"{prefix}_user_item_sum": table[:, 3].astype(np.int64),
        f"{prefix}_user_inner": np.array(
            [trainset.to_inner_uid(int(k)) for k in table[:, 0].astype(np.int64)], dtype=np.int64
        ),
    }


def _universe_mapper(*, trainset: Any, item_keys: np.ndarray) -> tuple[Callable[[int], int], np.ndarray]:
    """inner item id -> universe index, and the universe index of every inner item."""
    raw_ids = np.array([int(trainset.to_raw_iid(i)) for i in range(trainset.n_items)], dtype=np.int64)
    positions = np.searchsorted(item_keys, raw_ids)
    if np.any(positions >= item_keys.size) or np.any(item_keys[np.minimum(positions, item_keys.size - 1)] != raw_ids):
        raise ValueError("ratings name movies that are not in the movie table")
    return (lambda inner: int(positions[inner])), positions


# --------------------------------------------------------------------------- factor models
class FactorPredictor(RatingPredictor):
    """mu + b_u + b_i + q_i . p_u (SVD, SVD++ with its implicit term folded into p_u, NMF, BaselineOnly)."""

    def __init__(self, *, prefix: str, global_mean: float, rating_scale: tuple[float, float],
                 reg_bias: float, reg_factors: float, reg_bias_fixed: float = 0.0,
                 unknown_item_value: float | None = None) -> None:
        self.prefix = prefix
        self.global_mean = global_mean
        self.rating_scale = rating_scale
        self.reg_bias = reg_bias  # per rating (SGD-trained models)
        self.reg_bias_fixed = reg_bias_fixed  # once per user (ALS baselines)
        self.reg_factors = reg_factors
        self.unknown_item_value = unknown_item_value

    def bind(self, arrays: Mapping[str, np.ndarray]) -> None:
        super().bind(arrays)
        self._bu = arrays[f"{self.prefix}_bu"]
        self._pu = arrays[f"{self.prefix}_pu"]
        self._bi = arrays[f"{self.prefix}_bi"]
        self._qi = arrays[f"{self.prefix}_qi"]
        self._known = arrays[f"{self.prefix}_known_item"]

    def fold_in(self, *, ratings: UserRatings) -> tuple[float, np.ndarray]:
        """The user's bias and factors from their ratings, item parameters fixed (ridge regression).

        SGD regularises a user's parameters once per rating, so the ridge penalty grows with
        the number of ratings, exactly as in training.
        """
        known = self._known[ratings.items] if ratings.items.size else np.empty(0, dtype=bool)
        items, values = ratings.items[known], ratings.values[known]
        k = self._qi.shape[1]
        if items.size == 0:
            return 0.0, np.zeros(k)
        design = np.hstack([np.ones((items.size, 1)), np.asarray(self._qi[items], dtype=np.float64)])
        target = values - self.global_mean - np.asarray(self._bi[items], dtype=np.float64)
        penalty = np.full(k + 1, self.reg_factors * items.size + 1e-6)
        penalty[0] = self.reg_bias * items.size + self.reg_bias_fixed + 1e-6
        solution = np.linalg.solve(design.T @ design + np.diag(penalty), design.T @ target)
        return float(solution[0]), solution[1:]

    def user_parameters(self, *, user_key: int | None, ratings: UserRatings) -> tuple[float, np.ndarray, str]:
        row = self.trained_row(user_key=user_key, ratings=ratings)
        if row is not None:
            return float(self._bu[row]), np.asarray(self._pu[row], dtype=np.float64), "trained"
        bias, factors = self.fold_in(ratings=ratings)
        return bias, factors, "fold-in"

    def estimate_many(self, *, user_key: int | None, ratings: UserRatings, items: np.ndarray) -> np.ndarray:
        bias, factors, _ = self.user_parameters(user_key=user_key, ratings=ratings)
        items = np.asarray(items, dtype=np.int64)
        values = (self.global_mean + bias + np.asarray(self._bi[items], dtype=np.float64)
                  + np.asarray(self._qi[items], dtype=np.float64) @ factors)
        unknown = ~np.asarray(self._known[items], dtype=bool)
        if unknown.any():
            values[unknown] = self.unknown_item_value if self.unknown_item_value is not None else self.global_mean + bias
        low, high = self.rating_scale
        return np.clip(values, low, high)

    def estimate(self, *, user_key: int | None, ratings: UserRatings, item: int | None) -> Estimate:
        bias, factors, source = self.user_parameters(user_key=user_key, ratings=ratings)
        if item is None or not self._known[item]:
            if self.unknown_item_value is not None:
                return Estimate(self.clip(self.unknown_item_value), "baseline")
            return Estimate(self.clip(self.global_mean + bias), "baseline")
        value = self.global_mean + bias + float(self._bi[item]) + float(np.asarray(self._qi[item], dtype=np.float64) @ factors)
        return Estimate(self.clip(value), source)


def factor_export(*, algorithm: Any, trainset: Any, item_keys: np.ndarray,
                  rating_scale: tuple[float, float], prefix: str) -> Fitted:
    """Arrays of a fitted SVD / SVD++ / NMF / BaselineOnly, indexed by the item universe."""
    to_universe, positions = _universe_mapper(trainset=trainset, item_keys=item_keys)
    users = _user_table(prefix=prefix, trainset=trainset, item_universe_of=to_universe)
    inner_users = users.pop(f"{prefix}_user_inner")
    class_name = type(algorithm).__name__
    n_items = item_keys.size
    global_mean = float(trainset.global_mean)
    unknown_item_value: float | None = None  # None: mu + b_u, as Surprise answers for biased models
    reg_bias_fixed = 0.0
    if class_name == "BaselineOnly":
        bu, bi = algorithm.bu, algorithm.bi
        pu, qi = np.zeros((trainset.n_users, 0)), np.zeros((trainset.n_items, 0))
        reg_bias, reg_factors, reg_bias_fixed = 0.0, 0.0, float(algorithm.bsl_options.get("reg_u", 15))
    elif class_name == "NMF":
        biased = bool(algorithm.biased)
        bu = algorithm.bu if biased else np.zeros(trainset.n_users)
        bi = algorithm.bi if biased else np.zeros(trainset.n_items)
        pu, qi = algorithm.pu, algorithm.qi
        reg_bias, reg_factors = float(algorithm.reg_bu), float(algorithm.reg_pu)
        if not biased:
            global_mean = 0.0
            unknown_item_value = float(trainset.global_mean)
    else:  # SVD, SVDpp
        bu, bi, pu, qi = algorithm.bu, algorithm.bi, np.asarray(algorithm.pu), algorithm.qi
        if not getattr(algorithm, "biased", True):
            global_mean = 0.0
            unknown_item_value = float(trainset.global_mean)
        if class_name == "SVDpp":
            pu = pu.copy()
            for inner_user, user_ratings in trainset.ur.items():
                implicit = np.asarray(algorithm.yj)[[j for j, _ in user_ratings]].sum(axis=0)
                pu[inner_user] += implicit / np.sqrt(len(user_ratings))
        reg_bias, reg_factors = float(algorithm.reg_bu), float(algorithm.reg_pu)
    k = np.asarray(qi).shape[1]
    universe_bi = np.zeros(n_items, dtype=np.float64)
    universe_qi = np.zeros((n_items, k), dtype=np.float32)
    known = np.zeros(n_items, dtype=bool)
    universe_bi[positions] = np.asarray(bi, dtype=np.float64)
    universe_qi[positions] = np.asarray(qi, dtype=np.float32)
    known[positions] = True
    arrays = {
        **users,
        f"{prefix}_bu": np.asarray(bu, dtype=np.float64)[inner_users],
        f"{prefix}_pu": np.asarray(pu, dtype=np.float32)[inner_users],
        f"{prefix}_bi": universe_bi,
        f"{prefix}_qi": universe_qi,
        f"{prefix}_known_item": known,
    }
    predictor = FactorPredictor(prefix=prefix, global_mean=global_mean, rating_scale=rating_scale,
                                reg_bias=reg_bias, reg_factors=reg_factors, reg_bias_fixed=reg_bias_fixed,
                                unknown_item_value=unknown_item_value)
    return Fitted(predictor=predictor, arrays=arrays)


# --------------------------------------------------------------------------- item-based KNNBaseline
class ItemKnnPredictor(RatingPredictor):
    """KNNBaseline (item-based) from each item's strongest positive neighbours.

    est = mu + b_u + b_i + sum_j sim(i,j) (r_uj - mu - b_u - b_j) / sum_j sim(i,j) over the k
    most similar items the user rated.  The full n_items^2 similarity matrix is not kept:
    each item keeps its `neighbours` strongest positive similarities, which gives Surprise's
    estimate exactly whenever the user rated k of them.
    """

    def __init__(self, *, prefix: str, global_mean: float, rating_scale: tuple[float, float],
                 k: int, min_k: int, reg_user: float) -> None:
        self.prefix = prefix
        self.global_mean = global_mean
        self.rating_scale = rating_scale
        self.k = k
        self.min_k = min_k
        self.reg_user = reg_user

    def bind(self, arrays: Mapping[str, np.ndarray]) -> None:
        super().bind(arrays)
        self._bu = arrays[f"{self.prefix}_bu"]
        self._bi = arrays[f"{self.prefix}_bi"]
        self._known = arrays[f"{self.prefix}_known_item"]
        self._indptr = arrays[f"{self.prefix}_nb_indptr"]
        self._indices = arrays[f"{self.prefix}_nb_indices"]
        self._sims = arrays[f"{self.prefix}_nb_sims"]

    def estimate(self, *, user_key: int | None, ratings: UserRatings, item: int | None) -> Estimate:
        known = self._known[ratings.items] if ratings.items.size else np.empty(0, dtype=bool)
        items, values = ratings.items[known], ratings.values[known]
        row = self.trained_row(user_key=user_key, ratings=ratings)
        if row is not None:
            bias, source = float(self._bu[row]), "trained"
        else:
            residual = values - self.global_mean - np.asarray(self._bi[items], dtype=np.float64)
            bias, source = float(residual.sum() / (self.reg_user + items.size)), "fold-in"
        if item is None or not self._known[item]:
            return Estimate(self.clip(self.global_mean + bias), "baseline")
        estimate = self.global_mean + bias + float(self._bi[item])
        start, stop = int(self._indptr[item]), int(self._indptr[item + 1])
        neighbours = np.asarray(self._indices[start:stop])
        sims = np.asarray(self._sims[start:stop], dtype=np.float64)
        rated = dict(zip(items.tolist(), values.tolist(), strict=True))
        chosen = [(s, n) for n, s in zip(neighbours.tolist(), sims.tolist(), strict=True) if n in rated][: self.k]
        if len(chosen) >= self.min_k and chosen:
            weights = np.array([s for s, _ in chosen])
            residuals = np.array([rated[n] - (self.global_mean + bias + float(self._bi[n])) for _, n in chosen])
            estimate += float(weights @ residuals / weights.sum())
        return Estimate(self.clip(estimate), source)


def item_knn_export(*, algorithm: Any, trainset: Any, item_keys: np.ndarray,
                    rating_scale: tuple[float, float], prefix: str, neighbours: int = 300) -> Fitted:
    """Arrays of a fitted item-based KNNBaseline: baselines and top positive neighbours (CSR)."""
    if algorithm.sim_options.get("user_based", True):
        raise ValueError("only item-based KNNBaseline is exported to neighbour lists")
    to_universe, positions = _universe_mapper(trainset=trainset, item_keys=item_keys)
    users = _user_table(prefix=prefix, trainset=trainset, item_universe_of=to_universe)
    inner_users = users.pop(f"{prefix}_user_inner")
    n_items = item_keys.size
    sim = np.asarray(algorithm.sim)
    keep = min(neighbours, max(trainset.n_items - 1, 1))
    lists_idx: list[np.ndarray] = [np.empty(0, dtype=np.int32)] * n_items
    lists_sim: list[np.ndarray] = [np.empty(0, dtype=np.float32)] * n_items
    for inner in range(trainset.n_items):
        row = sim[inner].copy()
        row[inner] = -np.inf
        best = np.argpartition(-row, keep - 1)[:keep] if keep < row.size else np.arange(row.size)
        best = best[row[best] > 0]
        order = np.lexsort((best, -row[best]))
        best = best[order]
        lists_idx[int(positions[inner])] = positions[best].astype(np.int32)
        lists_sim[int(positions[inner])] = row[best].astype(np.float32)
    lengths = np.array([a.size for a in lists_idx], dtype=np.int64)
    indptr = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    universe_bi = np.zeros(n_items, dtype=np.float64)
    universe_bi[positions] = np.asarray(algorithm.bi, dtype=np.float64)
    known = np.zeros(n_items, dtype=bool)
    known[positions] = True
    arrays = {
        **users,
        f"{prefix}_bu": np.asarray(algorithm.bu, dtype=np.float64)[inner_users],
        f"{prefix}_bi": universe_bi,
        f"{prefix}_known_item": known,
        f"{prefix}_nb_indptr": indptr,
        f"{prefix}_nb_indices": np.concatenate(lists_idx).astype(np.int32) if n_items else np.empty(0, np.int32),
        f"{prefix}_nb_sims": np.concatenate(lists_sim).astype(np.float32) if n_items else np.empty(0, np.float32),
    }
    predictor = ItemKnnPredictor(
        prefix=prefix, global_mean=float(trainset.global_mean), rating_scale=rating_scale,
        k=int(algorithm.k), min_k=int(algorithm.min_k), reg_user=float(algorithm.bsl_options.get("reg_u", 15)),
    )
    return Fitted(predictor=predictor, arrays=arrays)


# --------------------------------------------------------------------------- kept-whole Surprise objects
class SurprisePredictor(RatingPredictor):
    """A fitted Surprise object for trained users; a companion factor model folds in everyone else."""

    def __init__(self, *, prefix: str, algorithm: Any, companion: FactorPredictor,
                 rating_scale: tuple[float, float], global_mean: float) -> None:
        self.prefix = prefix
        self.algorithm = algorithm
        self.companion = companion
        self.rating_scale = rating_scale
        self.global_mean = global_mean

    def bind(self, arrays: Mapping[str, np.ndarray]) -> None:
        super().bind(arrays)
        self.companion.bind(arrays)
        self._item_keys = arrays[f"{self.prefix}_item_keys"]

    def estimate(self, *, user_key: int | None, ratings: UserRatings, item: int | None) -> Estimate:
        row = self.trained_row(user_key=user_key, ratings=ratings)
        if row is not None and item is not None:
            prediction = self.algorithm.predict(int(user_key), int(self._item_keys[item]))  # type: ignore[arg-type]
            if not prediction.details.get("was_impossible", False):
                return Estimate(self.clip(float(prediction.est)), "trained")
        return self.companion.estimate(user_key=None, ratings=ratings, item=item)


# --------------------------------------------------------------------------- blends
class BlendPredictor(RatingPredictor):
    """A weighted mean of member predictors (each trained or folded in on its own)."""

    def __init__(self, *, members: Sequence[tuple[RatingPredictor, float]],
                 rating_scale: tuple[float, float], global_mean: float) -> None:
        self.members = list(members)
        self.rating_scale = rating_scale
        self.global_mean = global_mean
        self.prefix = ""

    def bind(self, arrays: Mapping[str, np.ndarray]) -> None:
        for member, _ in self.members:
            member.bind(arrays)

    def estimate(self, *, user_key: int | None, ratings: UserRatings, item: int | None) -> Estimate:
        parts = [(member.estimate(user_key=user_key, ratings=ratings, item=item), weight)
                 for member, weight in self.members]
        value = sum(e.value * w for e, w in parts) / sum(w for _, w in parts)
        sources = {e.source for e, _ in parts}
        source = "baseline" if "baseline" in sources else ("trained" if sources == {"trained"} else "fold-in")
        return Estimate(self.clip(value), source)

    def estimate_many(self, *, user_key: int | None, ratings: UserRatings, items: np.ndarray) -> np.ndarray:
        total = sum(w for _, w in self.members)
        values = sum(w * m.estimate_many(user_key=user_key, ratings=ratings, items=items) for m, w in self.members)
        low, high = self.rating_scale
        return np.clip(values / total, low, high)


# --------------------------------------------------------------------------- fitting
def rating_model_fit(
    *,
    algorithm: str,
    ratings: pd.DataFrame,
    item_keys: np.ndarray,
    rating_scale: tuple[float, float],
    seed: int,
    quick: bool = False,
    prefix: str = "rating",
) -> Fitted:
    """Fit `algorithm` on every rating and export it (item_keys: the sorted movie universe)."""
    spec = algorithm_get(name=algorithm)
    if spec.export == "blend":
        members = []
        arrays: dict[str, np.ndarray] = {}
        for position, (member_name, weight) in enumerate(spec.members):
            fitted = rating_model_fit(algorithm=member_name, ratings=ratings, item_keys=item_keys,
                                      rating_scale=rating_scale, seed=seed, quick=quick,
                                      prefix=f"{prefix}_m{position}")
            members.append((fitted.predictor, weight))
            arrays.update(fitted.arrays)
        blend = BlendPredictor(members=members, rating_scale=rating_scale,
                               global_mean=float(ratings["rating"].mean()))
        return Fitted(predictor=blend, arrays=arrays)
    n_users, n_items = int(ratings["user_id"].nunique()), int(item_keys.size)
    size = stored_matrix_bytes(spec=spec, n_users=n_users, n_items=n_items)
    if size > MAX_STORED_MATRIX_BYTES:
        raise ValueError(
            f"{spec.label} would store a {size / 2**20:.0f} MB similarity matrix for {n_users} users and "
            f"{n_items} movies; choose svd, knnbaseline (item neighbours are stored compactly) or blend"
        )
    trainset = surprise_dataset(ratings=ratings, rating_scale=rating_scale).build_full_trainset()
    fitted_algorithm = surprise_algorithm_create(name=spec.name, seed=seed, quick=quick).fit(trainset)
    if spec.export == "factor":
        return factor_export(algorithm=fitted_algorithm, trainset=trainset,
                             item_keys=item_keys, rating_scale=rating_scale, prefix=prefix)
    if spec.export == "item-knn":
        return item_knn_export(algorithm=fitted_algorithm, trainset=trainset, item_keys=item_keys,
                               rating_scale=rating_scale, prefix=prefix)
    companion_algorithm = surprise_algorithm_create(name="svd", seed=seed, quick=quick).fit(trainset)
    companion = factor_export(algorithm=companion_algorithm, trainset=trainset,
                              item_keys=item_keys, rating_scale=rating_scale, prefix=f"{prefix}_fold")
    to_universe, _ = _universe_mapper(trainset=trainset, item_keys=item_keys)
    users = _user_table(prefix=prefix, trainset=trainset, item_universe_of=to_universe)
    users.pop(f"{prefix}_user_inner")
    predictor = SurprisePredictor(prefix=prefix, algorithm=fitted_algorithm, companion=companion.predictor,  # type: ignore[arg-type]
                                  rating_scale=rating_scale, global_mean=float(trainset.global_mean))
    return Fitted(predictor=predictor, arrays={**users, **companion.arrays, f"{prefix}_item_keys": item_keys.astype(np.int64)})
