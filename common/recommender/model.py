"""The servable recommender: one registry version, and the queries the apps ask it.

Everything large is a numpy array (memory-mapped from the registry's `.npy` files and
shared by every worker); the pickled artifact holds only parameters and the rating
predictor's small Python state.  All queries are keyword-only functions:

- `recommendation_list`: top-N for a user given their *current* ratings (fold-in for free:
  EASE scores are `x_user @ B`), blended with content similarity for rarely rated and new
  movies, with "because you rated ..." explanations;
- `popular_movie_list`: damped-mean popularity for anonymous and new users;
- `similar_movie_list`: precomputed neighbours (collaborative + content);
- `rating_estimate`: predicted stars from the Surprise-trained rating model.

Movies are identified by their key (the database id); users only by their ratings (and a
key, used to recognise users the rating model was trained on).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from common.recommender.content import ContentSpace, content_features, content_profile, genre_membership
from common.recommender.rating import Estimate, RatingPredictor, UserRatings
from common.recommender.ranking import top_n

MAX_K = 100
SIMILAR_K = 50


@dataclasses.dataclass(frozen=True)
class RankerParams:
    """How the top-N ranker is built and blended (stored with every model)."""

    ease_l2: float = 300.0
    min_item_ratings: int = 5  # EASE covers movies rated at least this often; content covers the rest
    content_weight: float = 0.5  # weight of content similarity for a movie nobody rated
    content_shrinkage: float = 5.0  # content weight of a movie rated n times: s / (n + s)
    # Movies added after training ("new arrivals") compete at nearly full weight: a perfect
    # content match ranks with the user's best collaborative picks.  Only movies unknown to
    # the model get it, so the offline evaluation (no such movies) is unaffected.
    new_movie_weight: float = 0.9
    popularity_damping: float = 10.0
    similar_k: int = SIMILAR_K
    similar_co_shrinkage: float = 5.0
    similar_content_shrinkage: float = 10.0
    similar_content_floor: float = 0.15
    similar_candidate_exponent: float = 0.7


@dataclasses.dataclass
class RecommenderArtifact:
    """The pickled part of a model version (everything else is in `arrays`)."""

    params: RankerParams
    space: ContentSpace
    rating_scale: tuple[float, float]
    global_mean: float
    predictor: RatingPredictor | None
    algorithm: str | None


@dataclasses.dataclass(frozen=True)
class ExtraMovie:
    """A movie added after the model was trained (content features only)."""

    key: int
    genres: str
    year: int | None
    rating_count: int = 0
    rating_sum: float = 0.0


@dataclasses.dataclass(frozen=True)
class Recommendation:
    movie: int
    score: float
    reason: str  # "collaborative", "content" or "popular"
    because: tuple[int, ...] = ()  # movie keys of the user's ratings that explain it


@dataclasses.dataclass(frozen=True)
class SimilarMovie:
    movie: int
    similarity: float


class RecommenderModel:
    """Arrays + artifact of one version, with lookup helpers.  Cheap to build, immutable."""

    def __init__(self, *, artifact: RecommenderArtifact, arrays: Mapping[str, np.ndarray], version: str = "") -> None:
        self.artifact = artifact
        # Plain ndarray views of the memory maps: same shared pages, without np.memmap's
        # per-operation subclass overhead on the hot path.
        arrays = {name: np.asarray(array) for name, array in arrays.items()}
        self.arrays = arrays
        self.version = version
        self.item_keys: np.ndarray = arrays["item_keys"]
        self.item_counts: np.ndarray = arrays["item_counts"]
        self.features: np.ndarray = arrays["features"]
        self.genre_member: np.ndarray = arrays["genre_member"]
        self.popularity: np.ndarray = arrays["popularity"]
        self.popularity_order: np.ndarray = arrays["popularity_order"]
        self.warm_items: np.ndarray = arrays["warm_items"]
        self.warm_position: np.ndarray = arrays["warm_position"]
        self.ease: np.ndarray = arrays["ease_weights"]
        self.similar_index: np.ndarray = arrays["similar_index"]
        self.similar_score: np.ndarray = arrays["similar_score"]
        params = artifact.params
        counts = np.asarray(self.item_counts, dtype=np.float32)
        self.content_weight_per_item = (
            params.content_weight * params.content_shrinkage / (counts + params.content_shrinkage)
        ).astype(np.float32)
        self.predictor = artifact.predictor
        if self.predictor is not None:
            self.predictor.bind(arrays)

    @classmethod
    def from_loaded(cls, loaded: Any) -> RecommenderModel:
        """From a `common.registry.LoadedModel`."""
        return cls(artifact=loaded.artifact, arrays=loaded.arrays, version=loaded.version)

    @property
    def n_items(self) -> int:
        return int(self.item_keys.size)

    @property
    def space(self) -> ContentSpace:
        return self.artifact.space

    def index_of(self, keys: Sequence[int] | np.ndarray) -> np.ndarray:
        """Universe index of each key, -1 for keys the model does not know."""
        keys = np.asarray(keys, dtype=np.int64)
        if keys.size == 0 or self.n_items == 0:
            return np.full(keys.shape, -1, dtype=np.int64)
        positions = np.searchsorted(self.item_keys, keys)
        clipped = np.minimum(positions, self.n_items - 1)
        return np.where(self.item_keys[clipped] == keys, clipped, -1).astype(np.int64)

    def knows(self, key: int) -> bool:
        return bool(self.index_of([key])[0] >= 0)

    def user_ratings(self, ratings: Mapping[int, float]) -> tuple[UserRatings, dict[int, float]]:
        """Split {movie key: stars} into universe ratings and ratings of movies unknown to the model."""
        if not ratings:
            return UserRatings.empty(), {}
        keys = np.fromiter(ratings.keys(), dtype=np.int64, count=len(ratings))
        values = np.fromiter(ratings.values(), dtype=np.float64, count=len(ratings))
        index = self.index_of(keys)
        inside = index >= 0
        known = UserRatings(items=index[inside], values=values[inside])
        unknown = {int(k): float(v) for k, v in zip(keys[~inside], values[~inside], strict=True)}
        return known, unknown

    def genre_mask(self, genre: str | None) -> np.ndarray | None:
        if not genre:
            return None
        column = self.space.genre_index(genre)
        if column is None:
            return np.zeros(self.n_items, dtype=bool)
        return np.asarray(self.genre_member[:, column])


def _extra_arrays(*, model: RecommenderModel, extra_movies: Sequence[ExtraMovie]) -> tuple[np.ndarray, np.ndarray]:
    """Features and genre membership of movies unknown to the model."""
    if not extra_movies:
        return np.zeros((0, model.features.shape[1]), dtype=np.float32), np.zeros((0, len(model.space.genres)), bool)
    texts = [m.genres for m in extra_movies]
    features = content_features(space=model.space, genre_texts=texts, years=[m.year for m in extra_movies])
    return features, genre_membership(space=model.space, genre_texts=texts)


# Rows of B summed per block: a user with a thousand ratings never copies all their rows at once.
EASE_ROW_BLOCK = 128
EXPLAIN_SORT_MAX_RATINGS = 128


def _ease_row_sum(*, ease: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Sum of the given rows of B, added in the order given (so exactly `ease[rows].sum(axis=0)`).

    A reduction over the first axis adds row after row; carrying the running sum as the
    first row of the next block keeps that order while the temporary stays cache-sized.
    """
    if rows.size <= EASE_ROW_BLOCK:
        return np.asarray(ease[rows].sum(axis=0), dtype=np.float32)
    block = np.empty((EASE_ROW_BLOCK + 1, ease.shape[1]), dtype=ease.dtype)
    total = np.asarray(ease[rows[:EASE_ROW_BLOCK]].sum(axis=0), dtype=np.float32)
    for start in range(EASE_ROW_BLOCK, rows.size, EASE_ROW_BLOCK):
        chunk = rows[start:start + EASE_ROW_BLOCK]
        block[0] = total
        np.take(ease, chunk, axis=0, out=block[1:chunk.size + 1])
        total = block[:chunk.size + 1].sum(axis=0)
    return np.asarray(total, dtype=np.float32)


def _taste_weights(values: np.ndarray) -> np.ndarray:
    """How strongly a rating pulls the content profile: 1-2 stars barely, 5 stars most."""
    return np.clip(values - 2.0, 0.25, 3.0)


# --------------------------------------------------------------------------- recommendations
def recommendation_scores(
    *, model: RecommenderModel, ratings: UserRatings, extra_features: np.ndarray | None = None,
    extra_ratings: Mapping[int, float] | None = None, extra_rated_features: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Scores of every model movie and of every extra movie for one user (rated ones not excluded).

    EASE part: the user's binary rating vector times B, scaled so the best unrated movie
    scores 1.  Content part: cosine between the movie and the user's taste profile,
    weighted s / (n + s) for a movie rated n times (full weight for unrated movies).
    """
    extra_features = extra_features if extra_features is not None else np.zeros((0, model.features.shape[1]), np.float32)
    scores = np.zeros(model.n_items, dtype=np.float32)
    warm_rows = model.warm_position[ratings.items] if ratings.items.size else np.empty(0, dtype=np.int64)
    warm_rows = warm_rows[warm_rows >= 0]
    if warm_rows.size:
        ease_scores = _ease_row_sum(ease=model.ease, rows=warm_rows)
        # The best unrated score: rated ones set aside for a moment instead of a mask copy.
        rated_scores = ease_scores[warm_rows]
        ease_scores[warm_rows] = -np.inf
        top = float(ease_scores.max())
        top = top if np.isfinite(top) else 0.0
        ease_scores[warm_rows] = rated_scores
        if top > 0:
            ease_scores /= top
        scores[model.warm_items] = ease_scores
    rated_features = np.asarray(model.features[ratings.items]) if ratings.items.size else np.zeros((0, model.features.shape[1]), np.float32)
    weights = _taste_weights(ratings.values)
    if extra_rated_features is not None and extra_ratings:
        rated_features = np.vstack([rated_features, extra_rated_features])
        weights = np.concatenate([weights, _taste_weights(np.fromiter(extra_ratings.values(), dtype=np.float64))])
    profile = content_profile(features=rated_features, weights=weights)
    content = model.features @ profile
    content *= model.content_weight_per_item
    scores += content
    extra_scores = (extra_features @ profile) * np.float32(model.artifact.params.new_movie_weight)
    return scores, extra_scores.astype(np.float32)


def recommendation_list(
    *,
    model: RecommenderModel,
    ratings: Mapping[int, float],
    k: int,
    genre: str | None = None,
    extra_movies: Sequence[ExtraMovie] = (),
    explain: bool = True,
) -> list[Recommendation]:
    """The k best movies the user has not rated (popular ones when they rated nothing)."""
    k = max(0, min(int(k), MAX_K))
    known, unknown = model.user_ratings(ratings)
    if known.items.size == 0 and not unknown:
        return [
            Recommendation(movie=m.movie, score=m.score, reason="popular")
            for m in popular_movie_list(model=model, k=k, genre=genre, extra_movies=extra_movies)
        ]
    extra_features, extra_genres = _extra_arrays(model=model, extra_movies=extra_movies)
    extra_keys = [m.key for m in extra_movies]
    rated_extra_rows = [i for i, key in enumerate(extra_keys) if key in unknown]
    scores, extra_scores = recommendation_scores(
        model=model, ratings=known, extra_features=extra_features,
        extra_ratings={extra_keys[i]: unknown[extra_keys[i]] for i in rated_extra_rows},
        extra_rated_features=extra_features[rated_extra_rows] if rated_extra_rows else None,
    )
    combined = np.concatenate([scores, extra_scores]) if extra_scores.size else scores
    excluded = (np.concatenate([known.items, model.n_items + np.asarray(rated_extra_rows, dtype=np.int64)])
                if rated_extra_rows else known.items)
    mask = model.genre_mask(genre)
    if mask is not None:
        column = model.space.genre_index(genre or "")
        extra_mask = extra_genres[:, column] if column is not None else np.zeros(len(extra_movies), bool)
        combined = np.where(np.concatenate([mask, extra_mask]), combined, -np.inf)
    best = top_n(scores=combined, k=k, exclude=excluded)
    in_model = best[best < model.n_items]
    explanations: dict[int, tuple[str, tuple[int, ...]]] = {}
    if explain:
        explanations = _explain(model=model, ratings=known, items=in_model)
    results = []
    for index in best.tolist():
        if index >= model.n_items:
            movie = extra_movies[index - model.n_items]
            because = _content_because(model=model, ratings=known, targets=extra_features[[index - model.n_items]])[0] if explain else ()
            results.append(Recommendation(movie=movie.key, score=float(combined[index]), reason="content", because=because))
            continue
        reason, because = explanations.get(index, ("collaborative", ()))
        results.append(Recommendation(movie=int(model.item_keys[index]), score=float(combined[index]),
                                      reason=reason, because=because))
    return results


def _explain(
    *, model: RecommenderModel, ratings: UserRatings, items: np.ndarray, limit: int = 3
) -> dict[int, tuple[str, tuple[int, ...]]]:
    """Why each item was recommended: the user's ratings with the largest EASE weight towards it,
    or (for movies outside EASE, or without a positive weight) the liked movies most alike in content."""
    explained: dict[int, tuple[str, tuple[int, ...]]] = {}
    rows = model.warm_position[ratings.items] if ratings.items.size else np.empty(0, dtype=np.int64)
    inside = rows >= 0
    rated_rows, rated_items = rows[inside], ratings.items[inside]
    columns = model.warm_position[items] if items.size else np.empty(0, dtype=np.int64)
    warm = columns >= 0
    if rated_rows.size and warm.any():
        contributions = np.asarray(model.ease[np.ix_(rated_rows, columns[warm])], dtype=np.float64)
        # The `limit` largest of each column, ties by rating order: one stable sort for a few
        # ratings, a selection per column (no full sort) for many; both give the same order.
        few = rated_rows.size <= EXPLAIN_SORT_MAX_RATINGS
        sorted_columns = np.argsort(-contributions, axis=0, kind="stable")[:limit] if few else None
        for position, item in enumerate(items[warm].tolist()):
            order = sorted_columns[:, position] if sorted_columns is not None else top_n(
                scores=contributions[:, position], k=limit)
            chosen = [int(rated_items[i]) for i in order if contributions[i, position] > 0]
            if chosen:
                explained[item] = ("collaborative", tuple(int(model.item_keys[i]) for i in chosen))
    rest = np.array([i for i in items.tolist() if i not in explained], dtype=np.int64)
    if rest.size:
        for item, because in zip(rest.tolist(), _content_because(model=model, ratings=ratings,
                                                                  targets=np.asarray(model.features[rest]), limit=limit), strict=True):
            explained[item] = ("content", because)
    return explained


def _content_because(
    *, model: RecommenderModel, ratings: UserRatings, targets: np.ndarray, limit: int = 3
) -> list[tuple[int, ...]]:
    """For each target feature row: the user's liked (>= 3 stars) movies closest in content."""
    if ratings.items.size == 0:
        return [() for _ in range(targets.shape[0])]
    similarity = np.asarray(model.features[ratings.items]) @ targets.T  # n_rated x n_targets
    similarity[ratings.values < 3.0] = -np.inf
    found = []
    for column in range(targets.shape[0]):
        order = top_n(scores=similarity[:, column], k=limit)
        found.append(tuple(int(model.item_keys[ratings.items[i]]) for i in order if similarity[i, column] > 0))
    return found


# --------------------------------------------------------------------------- popular
@dataclasses.dataclass(frozen=True)
class ScoredMovie:
    movie: int
    score: float


def popular_movie_list(
    *,
    model: RecommenderModel,
    k: int,
    genre: str | None = None,
    exclude: Sequence[int] = (),
    extra_movies: Sequence[ExtraMovie] = (),
) -> list[ScoredMovie]:
    """Best damped-mean movies (optionally of one genre), skipping `exclude` (movie keys)."""
    k = max(0, min(int(k), MAX_K))
    excluded = model.index_of(list(exclude))
    allowed = np.ones(model.n_items, dtype=bool)
    allowed[excluded[excluded >= 0]] = False
    mask = model.genre_mask(genre)
    if mask is not None:
        allowed &= mask
    order = np.asarray(model.popularity_order)
    chosen = order[allowed[order]][:k]
    found = [ScoredMovie(movie=int(model.item_keys[i]), score=float(model.popularity[i])) for i in chosen]
    if extra_movies:
        params = model.artifact.params
        excluded_keys = set(int(x) for x in exclude)
        _, extra_genres = _extra_arrays(model=model, extra_movies=extra_movies)
        column = model.space.genre_index(genre) if genre else None
        for row, movie in enumerate(extra_movies):
            if movie.key in excluded_keys or (genre and (column is None or not extra_genres[row, column])):
                continue
            score = (movie.rating_sum + params.popularity_damping * model.artifact.global_mean) / (
                movie.rating_count + params.popularity_damping
            )
            found.append(ScoredMovie(movie=movie.key, score=float(score)))
        found.sort(key=lambda m: (-m.score, m.movie))
        found = found[:k]
    return found


# --------------------------------------------------------------------------- similar
def similar_movie_list(
    *, model: RecommenderModel, movie: int | ExtraMovie, k: int, extra_movies: Sequence[ExtraMovie] = ()
) -> list[SimilarMovie]:
    """Movies most like `movie`: precomputed for model movies, content-only for new ones."""
    k = max(0, min(int(k), model.artifact.params.similar_k))
    extra_features, _ = _extra_arrays(model=model, extra_movies=extra_movies)
    extra_keys = np.array([m.key for m in extra_movies], dtype=np.int64)
    if isinstance(movie, ExtraMovie):
        target = content_features(space=model.space, genre_texts=[movie.genres], years=[movie.year])[0]
        scores = np.concatenate([model.features @ target, extra_features @ target])
        keys = np.concatenate([model.item_keys, extra_keys])
        best = top_n(scores=scores, k=k + 1, exclude=np.flatnonzero(keys == movie.key))[:k]
        return [SimilarMovie(movie=int(keys[i]), similarity=float(scores[i])) for i in best]
    index = int(model.index_of([movie])[0])
    if index < 0:
        raise LookupError(f"movie {movie} is not in the model")
    found = [SimilarMovie(movie=int(model.item_keys[j]), similarity=float(s))
             for j, s in zip(model.similar_index[index, :k].tolist(), model.similar_score[index, :k].tolist(), strict=True)]
    if extra_movies:
        params = model.artifact.params
        count = float(model.item_counts[index])
        weight = max(params.similar_content_floor,
                     params.similar_content_shrinkage / (count + params.similar_content_shrinkage))
        extra_scores = (extra_features @ np.asarray(model.features[index])) * weight
        found += [SimilarMovie(movie=int(key), similarity=float(s)) for key, s in zip(extra_keys, extra_scores, strict=True)]
        found.sort(key=lambda m: (-m.similarity, m.movie))
        found = found[:k]
    return found


# --------------------------------------------------------------------------- rating
def rating_estimate(
    *, model: RecommenderModel, user_key: int | None, ratings: Mapping[int, float], movie: int
) -> Estimate:
    """Predicted stars of `movie` for the user (trained parameters, or folded in from `ratings`)."""
    if model.predictor is None:
        raise LookupError("this model version has no rating model")
    known, _ = model.user_ratings(ratings)
    index = int(model.index_of([movie])[0])
    return model.predictor.estimate(user_key=user_key, ratings=known, item=index if index >= 0 else None)
