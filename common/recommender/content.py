"""Content-based features of movies (genres and release year) and cosine similarity.

A movie is a unit vector: one-hot genres (each genre weighted 1/sqrt(#genres)) next to
a smooth encoding of its year (Gaussian bumps centred on each decade), so movies of the
same genres from nearby years are closest.  New movies, added after training, get the
same features from their genres and year alone, which makes them recommendable at once.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence

import numpy as np

GENRE_SEPARATOR = "|"
NO_GENRES = "(no genres listed)"
YEAR_CENTRES = tuple(range(1900, 2031, 10))
YEAR_BANDWIDTH = 7.0  # years; neighbouring decades overlap, distant ones do not
YEAR_WEIGHT = 0.3  # share of the year part next to the genre part: genres dominate, the era breaks ties


def genres_parse(*, text: str | None) -> list[str]:
    """`"Comedy|Drama"` -> `["Comedy", "Drama"]`; empty and "(no genres listed)" give `[]`."""
    if not text:
        return []
    return [g.strip() for g in text.split(GENRE_SEPARATOR) if g.strip() and g.strip() != NO_GENRES]


def genre_vocabulary_build(*, genre_texts: Iterable[str | None]) -> tuple[str, ...]:
    """Every genre named in `genre_texts`, sorted."""
    found: set[str] = set()
    for text in genre_texts:
        found.update(genres_parse(text=text))
    return tuple(sorted(found))


@dataclasses.dataclass(frozen=True)
class ContentSpace:
    """How genres and years become vectors (fixed per trained model)."""

    genres: tuple[str, ...]
    year_centres: tuple[int, ...] = YEAR_CENTRES
    year_bandwidth: float = YEAR_BANDWIDTH
    year_weight: float = YEAR_WEIGHT

    @property
    def dimension(self) -> int:
        return len(self.genres) + len(self.year_centres)

    def genre_index(self, genre: str) -> int | None:
        try:
            return self.genres.index(genre)
        except ValueError:
            return None


def content_features(
    *, space: ContentSpace, genre_texts: Sequence[str | None], years: Sequence[float | None]
) -> np.ndarray:
    """Unit-length float32 rows (n_movies x dimension); a movie with no genre and no year is all zero."""
    n = len(genre_texts)
    if len(years) != n:
        raise ValueError(f"{n} genre lists for {len(years)} years")
    n_genres = len(space.genres)
    lookup = {g: i for i, g in enumerate(space.genres)}
    genre_part = np.zeros((n, n_genres), dtype=np.float64)
    for row, text in enumerate(genre_texts):
        columns = [lookup[g] for g in genres_parse(text=text) if g in lookup]
        if columns:
            genre_part[row, columns] = 1.0 / np.sqrt(len(columns))
    year_values = np.array([np.nan if y is None else float(y) for y in years], dtype=np.float64)
    centres = np.asarray(space.year_centres, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        bumps = np.exp(-0.5 * ((year_values[:, None] - centres[None, :]) / space.year_bandwidth) ** 2)
    bumps[np.isnan(year_values)] = 0.0
    norms = np.linalg.norm(bumps, axis=1, keepdims=True)
    year_part = np.divide(bumps, norms, out=np.zeros_like(bumps), where=norms > 0)
    features = np.hstack([genre_part * (1.0 - space.year_weight), year_part * space.year_weight])
    lengths = np.linalg.norm(features, axis=1, keepdims=True)
    features = np.divide(features, lengths, out=np.zeros_like(features), where=lengths > 0)
    return features.astype(np.float32)


def genre_membership(*, space: ContentSpace, genre_texts: Sequence[str | None]) -> np.ndarray:
    """Boolean (n_movies x n_genres): which genres each movie has (for genre filters)."""
    lookup = {g: i for i, g in enumerate(space.genres)}
    member = np.zeros((len(genre_texts), len(space.genres)), dtype=bool)
    for row, text in enumerate(genre_texts):
        for genre in genres_parse(text=text):
            if genre in lookup:
                member[row, lookup[genre]] = True
    return member


def content_profile(*, features: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """A user's taste in content space: the weighted mean of the rated movies' features, unit length."""
    if features.shape[0] == 0:
        return np.zeros(features.shape[1], dtype=np.float32)
    profile = np.asarray(weights, dtype=np.float32) @ features
    length = float(np.linalg.norm(profile))
    return (profile / length).astype(np.float32) if length > 0 else profile.astype(np.float32)
