"""Weight-of-evidence binning for the scorecard: monotone numeric bins, smoothed category WoE.

Every characteristic is cut into a few bins whose bad rates move in one
direction (more income never looks riskier), each bin gets its WoE,
`ln(share of goods / share of bads)`, and missing values get a bin of their
own.  The fitted bins are plain lists (cut points and WoE values), which the
compiled single-applicant path reads directly.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.isotonic import isotonic_regression

from common.credit.features import Signature, category_codes, frame_conform, frame_with_derived


def _woe(bad: np.ndarray, total: np.ndarray, *, prior: float, strength: float) -> np.ndarray:
    """Smoothed WoE of each bin: its log good:bad odds minus the overall log odds.

    The bad rate is shrunk toward the overall rate by `strength` pseudo-rows, so
    a bin or category with few rows gets a WoE near 0 instead of an extreme one.
    """
    rate = (bad + strength * prior) / (total + strength)
    return np.log((1 - rate) / rate) - math.log((1 - prior) / prior)


def _pool_adjacent_violators(bad: list[float], total: list[float], increasing: bool) -> list[list[int]]:
    """Group adjacent fine bins so that bad rates are monotone (`increasing` with the value)."""
    blocks: list[list[Any]] = []  # [bad, total, members]
    for index, (b, t) in enumerate(zip(bad, total, strict=True)):
        blocks.append([b, t, [index]])
        while len(blocks) > 1:
            previous, last = blocks[-2], blocks[-1]
            rate_previous = previous[0] / previous[1]
            rate_last = last[0] / last[1]
            violates = rate_last < rate_previous if increasing else rate_last > rate_previous
            if not violates:
                break
            blocks[-2:] = [[previous[0] + last[0], previous[1] + last[1], previous[2] + last[2]]]
    return [block[2] for block in blocks]


def numeric_bins_fit(
    *, values: np.ndarray, target: np.ndarray, direction: int, max_bins: int, min_share: float,
    fine_bins: int = 20,
) -> tuple[list[float], int]:
    """Cut points of monotone bins for one numeric characteristic, and the direction used.

    `direction` +1: risk rises with the value, -1: falls, 0: chosen from the data.
    Bins hold at least `min_share` of the rows with a value.
    """
    present = ~np.isnan(values)
    x, y = values[present], target[present]
    if x.size == 0:
        return [], direction or 1
    quantiles = np.unique(np.quantile(x, np.linspace(0, 1, fine_bins + 1)[1:-1], method="lower"))
    # cut points sit above a value: bin i holds cuts[i-1] <= x < cuts[i]
    uniques = np.unique(x)
    cuts = [float(uniques[np.searchsorted(uniques, q, side="right")]) for q in quantiles
            if np.searchsorted(uniques, q, side="right") < uniques.size]
    cuts = sorted(set(cuts))
    index = np.searchsorted(cuts, x, side="right")
    total = np.bincount(index, minlength=len(cuts) + 1).astype(float)
    bad = np.bincount(index, weights=y, minlength=len(cuts) + 1)
    keep = total > 0
    if direction == 0:
        centres = np.arange(total.size)[keep]
        rates = bad[keep] / total[keep]
        correlation = np.corrcoef(centres, rates)[0, 1] if centres.size > 1 and rates.std() > 0 else 1.0
        direction = 1 if correlation >= 0 else -1
    groups = _pool_adjacent_violators(list(bad[keep]), list(total[keep]), increasing=direction > 0)
    kept_cuts = [c for c, k in zip(cuts, keep[1:], strict=True) if k]  # a cut starts the next non-empty bin
    members = [[int(i) for i in g] for g in groups]
    # merge bins below the minimum size, then the most similar neighbours until max_bins remain
    minimum = min_share * x.size
    sizes = total[keep]
    bads = bad[keep]

    def stats(group: list[int]) -> tuple[float, float]:
        return float(sizes[group].sum()), float(bads[group].sum())

    def merge_at(position: int) -> None:  # merge group `position` with the next one
        members[position : position + 2] = [members[position] + members[position + 1]]

    while len(members) > 1:
        small = [i for i, g in enumerate(members) if stats(g)[0] < minimum]
        if small:
            i = small[0]
            if i == len(members) - 1:
                merge_at(i - 1)
            elif i == 0:
                merge_at(0)
            else:
                rate = stats(members[i])[1] / stats(members[i])[0]
                left = stats(members[i - 1])[1] / stats(members[i - 1])[0]
                right = stats(members[i + 1])[1] / stats(members[i + 1])[0]
                merge_at(i - 1 if abs(rate - left) <= abs(rate - right) else i)
            continue
        if len(members) <= max_bins:
            break
        rates = [stats(g)[1] / stats(g)[0] for g in members]
        gaps = [abs(rates[i + 1] - rates[i]) for i in range(len(rates) - 1)]
        merge_at(int(np.argmin(gaps)))
    # each group after the first starts at the cut of its first fine bin
    boundaries = [_round_cut(kept_cuts[g[0] - 1]) for g in members[1:]]
    return sorted(set(boundaries)), direction


def _round_cut(value: float) -> float:
    """A cut point readable in a reason text: three significant digits (bins barely move)."""
    if value == 0 or not math.isfinite(value):
        return float(value)
    digits = 2 - int(math.floor(math.log10(abs(value))))
    return float(round(value, digits))


class WoEBinner(TransformerMixin, BaseEstimator):
    """DataFrame of applicant inputs -> matrix of WoE values, one column per characteristic.

    Parameters are plain values so the binner clones and pickles like any
    scikit-learn transformer; `signature` is a `Signature.to_dict()`.
    """

    def __init__(
        self, *, signature: Mapping[str, Any] | None = None, directions: Mapping[str, int] | None = None,
        max_bins: int = 6, min_share: float = 0.05, smoothing: float = 10.0,
    ) -> None:
        self.signature = signature
        self.directions = directions
        self.max_bins = max_bins
        self.min_share = min_share
        self.smoothing = smoothing

    def _signature(self) -> Signature:
        if self.signature is None:
            raise ValueError("WoEBinner needs a signature")
        return Signature.from_dict(self.signature)

    def _characteristics_frame(self, X: pd.DataFrame) -> pd.DataFrame:
        signature = self._signature()
        return frame_with_derived(frame_conform(X, signature=signature), signature.derived)

    def fit(self, X: pd.DataFrame, y: Any) -> WoEBinner:
        signature = self._signature()
        target = np.asarray(y, dtype=float)
        frame = self._characteristics_frame(X)
        prior = float(target.mean())
        directions = dict(self.directions or {})
        characteristics = []
        for spec_name, kind in [(f.name, "category" if f.kind == "category" else "numeric") for f in signature.features] + \
                [(d.name, "numeric") for d in signature.derived]:
            column = frame[spec_name]
            if kind == "numeric":
                values = column.to_numpy(dtype=float)
                cuts, direction = numeric_bins_fit(
                    values=values, target=target, direction=int(directions.get(spec_name, 0)),
                    max_bins=self.max_bins, min_share=self.min_share,
                )
                missing = np.isnan(values)
                index = np.where(missing, len(cuts) + 1, np.searchsorted(cuts, np.nan_to_num(values), side="right"))
                labels: list[str] = []
            else:
                spec = signature.feature(spec_name)
                labels = list(spec.categories) or sorted({str(v) for v in column.dropna()})
                codes = category_codes(column, labels)
                index = np.where(column.isna().to_numpy(), len(labels), codes)
                cuts, direction = [], 0
            value_bins = len(cuts) + 1 if kind == "numeric" else len(labels)
            total = np.bincount(index[index >= 0], minlength=value_bins + 1).astype(float)
            bad = np.bincount(index[index >= 0], weights=target[index >= 0], minlength=value_bins + 1)
            woe = _woe(bad, total, prior=prior, strength=self.smoothing)
            if kind == "numeric" and value_bins > 1:
                # smoothing can nudge neighbouring bins out of order: restore the monotone trend
                woe[:value_bins] = isotonic_regression(
                    woe[:value_bins], sample_weight=np.maximum(total[:value_bins], 1.0), increasing=direction < 0
                )
            goods, bads = total - bad, bad
            good_share = (goods + 0.5) / (goods.sum() + 0.5)
            bad_share = (bads + 0.5) / (bads.sum() + 0.5)
            information_value = float(np.sum((good_share - bad_share) * np.log(good_share / bad_share)))
            characteristics.append(
                {
                    "name": spec_name, "kind": kind, "cuts": [float(c) for c in cuts], "categories": labels,
                    "direction": direction, "woe": [float(w) for w in woe[:value_bins]],
                    "missing_woe": float(woe[value_bins]), "counts": [int(t) for t in total],
                    "bad_rates": [float(b / t) if t else None for b, t in zip(bad, total, strict=True)],
                    "information_value": information_value,
                }
            )
        self.characteristics_ = characteristics
        self.prior_bad_rate_ = prior
        self.n_features_in_ = len(signature.features)
        self.feature_names_in_ = np.array(signature.names, dtype=object)
        return self

    def bins(self, X: pd.DataFrame) -> np.ndarray:
        """Bin index of every applicant on every characteristic (the last index of each = missing, -1 = unknown)."""
        frame = self._characteristics_frame(X)
        result = np.empty((len(frame), len(self.characteristics_)), dtype=np.int64)
        for j, item in enumerate(self.characteristics_):
            column = frame[item["name"]]
            if item["kind"] == "numeric":
                values = column.to_numpy(dtype=float)
                index = np.searchsorted(item["cuts"], np.nan_to_num(values), side="right")
                result[:, j] = np.where(np.isnan(values), len(item["cuts"]) + 1, index)
            else:
                codes = category_codes(column, item["categories"])
                missing = column.isna().to_numpy()
                result[:, j] = np.where(missing, len(item["categories"]), codes)
        return result

    def woe_tables(self) -> list[np.ndarray]:
        """Per characteristic: WoE by bin index, the missing bin last."""
        return [np.array([*item["woe"], item["missing_woe"]]) for item in self.characteristics_]

    def transform(self, X: pd.DataFrame) -> np.ndarray:
        bins = self.bins(X)
        result = np.zeros(bins.shape, dtype=float)
        for j, table in enumerate(self.woe_tables()):
            known = bins[:, j] >= 0
            result[known, j] = table[bins[known, j]]
        return result

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        return np.array([item["name"] for item in self.characteristics_], dtype=object)
