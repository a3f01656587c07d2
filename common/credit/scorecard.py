"""The scorecard compiled to plain numbers: one applicant in microseconds, a batch in vectorised numpy.

`scorecard_compile` reads a fitted champion pipeline once and keeps, per
characteristic, the cut points and the points of every bin.  Scoring one
applicant is then validation, a `bisect` per numeric characteristic, a dict
lookup per category, a sum and one `exp`: no pandas, no scikit-learn call.
`applicants_score` does the same on whole columns with numpy.  Both are tested
against the scikit-learn pipeline to 1e-9.

Points scaling: score = offset + factor * ln(good:bad odds), factor = pdo / ln 2,
offset = base_points - factor * ln(base_odds) (600 points at 50:1, 20 points to
double the odds by default).  An applicant's points on a characteristic are
`factor * contribution + (offset + factor * constant) / k`, so the points add
up to the score.
"""

from __future__ import annotations

from bisect import bisect_right
import dataclasses
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from common.credit.features import DerivedFeature, FeatureSpec, Signature, category_codes

REASON_MIN_POINTS = 0.5  # a characteristic costing less than this is not worth a reason


@dataclasses.dataclass(frozen=True)
class ScorePolicy:
    """Points scaling and decision cut-offs (PD below `approve_below` approves, from `decline_from` declines)."""

    base_points: float = 600.0
    base_odds: float = 50.0
    points_to_double_odds: float = 20.0
    approve_below: float = 0.15
    decline_from: float = 0.40
    max_reasons: int = 4

    def __post_init__(self) -> None:
        if not 0 < self.approve_below <= self.decline_from <= 1:
            raise ValueError("cut-offs need 0 < approve_below <= decline_from <= 1")
        if self.base_odds <= 0 or self.points_to_double_odds <= 0:
            raise ValueError("base_odds and points_to_double_odds must be positive")
        if not 0 <= self.max_reasons <= 10:
            raise ValueError("max_reasons must be between 0 and 10")

    @property
    def factor(self) -> float:
        return self.points_to_double_odds / math.log(2.0)

    @property
    def offset(self) -> float:
        return self.base_points - self.factor * math.log(self.base_odds)

    def to_dict(self) -> dict[str, float]:
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class Grade:
    grade: str
    pd_from: float  # inclusive
    pd_to: float  # exclusive (1.0 for the last grade, inclusive)


def _number(value: float) -> str:
    if value == int(value) and abs(value) < 1e15:
        return f"{int(value):,}"
    return f"{value:,.3g}" if abs(value) < 1 else f"{value:,.2f}".rstrip("0").rstrip(".")


@dataclasses.dataclass(frozen=True)
class Characteristic:
    """One scorecard line: bins with their points and reason texts."""

    name: str
    label: str
    kind: str  # numeric | category
    cuts: tuple[float, ...]
    categories: tuple[str, ...]
    contributions: tuple[float, ...]  # per value bin, to ln(good:bad odds); missing bin last
    points: tuple[float, ...]  # same layout, in score points
    max_points: float
    bin_labels: tuple[str, ...]
    reasons: tuple[str, ...]
    active: bool
    source: int  # index of the input feature, or -1 for a derived characteristic
    derived: int  # index into Signature.derived, or -1

    @property
    def missing_bin(self) -> int:
        return len(self.points) - 1


def _bin_labels(*, kind: str, cuts: Sequence[float], categories: Sequence[str]) -> list[str]:
    if kind == "category":
        return [*categories, "not provided"]
    if not cuts:
        return ["any value", "not provided"]
    labels = [f"below {_number(cuts[0])}"]
    labels += [f"{_number(low)} to under {_number(high)}" for low, high in zip(cuts[:-1], cuts[1:], strict=True)]
    labels.append(f"{_number(cuts[-1])} or more")
    return [*labels, "not provided"]


def _reason_texts(*, label: str, kind: str, bin_labels: Sequence[str], points: Sequence[float]) -> list[str]:
    best = int(np.argmax(points[:-1])) if len(points) > 1 else 0
    texts = []
    for index, bin_label in enumerate(bin_labels):
        if index == len(bin_labels) - 1:
            texts.append(f"{label} was not provided")
        elif kind == "category":
            texts.append(f"{label} is \u201c{bin_label}\u201d, which scores lower than \u201c{bin_labels[best]}\u201d")
        elif index < best:
            texts.append(f"{label} is low ({bin_label})")
        else:
            texts.append(f"{label} is high ({bin_label})")
    return texts


@dataclasses.dataclass
class CompiledScorecard:
    """Everything needed to score: inputs, characteristics, constant, scaling, grades."""

    model_name: str
    model_version: str
    signature: Signature
    characteristics: tuple[Characteristic, ...]
    constant: float  # ln(good:bad odds) of an applicant with every WoE = 0
    policy: ScorePolicy
    grades: tuple[Grade, ...]

    def __post_init__(self) -> None:
        # Flat tuples for the hot loop: one entry per input feature.
        self._inputs = tuple(
            (f.name, f.kind, f.nullable, f.minimum, f.maximum, frozenset(f.categories)) for f in self.signature.features
        )
        self._names = frozenset(f.name for f in self.signature.features)
        by_name = {c.name: list(c.categories) for c in self.characteristics}
        self._input_categories = tuple(by_name.get(f.name, []) for f in self.signature.features)
        self._derived_inputs = tuple(
            tuple(self.signature.names.index(name) for name in d.inputs) for d in self.signature.derived
        )
        self._derived_plan = tuple(zip(self.signature.derived, self._derived_inputs, strict=True))
        self._lines = tuple(
            (c.kind == "category", c.source if c.source >= 0 else -c.derived - 1, list(c.cuts),
             {cat: i for i, cat in enumerate(c.categories)}, c.points, c.missing_bin, c.max_points)
            for c in self.characteristics
        )
        self._reason_info = tuple((c.name.upper(), c.name, c.reasons) for c in self.characteristics)

    @property
    def ref(self) -> str:
        return f"{self.model_name}@{self.model_version}"

    # ------------------------------------------------------------------ one applicant
    def validate(self, applicant: Mapping[str, Any]) -> tuple[list[float | str | None], list[dict[str, str]]]:
        """Typed values in signature order and the list of bad fields (empty when valid)."""
        values: list[float | str | None] = []
        errors: list[dict[str, str]] = []
        for name, kind, nullable, minimum, maximum, categories in self._inputs:
            value = applicant.get(name)
            if value is None:
                if not nullable:
                    errors.append({"field": name, "message": "Field required" if name not in applicant
                                   else "Input should not be null"})
                values.append(None)
                continue
            if kind == "category":
                if type(value) is not str:
                    errors.append({"field": name, "message": "Input should be a valid string"})
                elif value not in categories:
                    errors.append({"field": name, "message": "Input should be " + _choices(categories)})
                values.append(value)
                continue
            value_type = type(value)
            if value_type is not int and (kind == "integer" or value_type is not float):
                errors.append({"field": name, "message": "Input should be a valid integer" if kind == "integer"
                               else "Input should be a valid number"})
                values.append(None)
                continue
            if value != value or value in (math.inf, -math.inf):
                errors.append({"field": name, "message": "Input should be a finite number"})
            elif minimum is not None and value < minimum:
                errors.append({"field": name, "message": f"Input should be greater than or equal to {minimum}"})
            elif maximum is not None and value > maximum:
                errors.append({"field": name, "message": f"Input should be less than or equal to {maximum}"})
            values.append(value)
        if len(applicant) > len(self._inputs) or not self._names.issuperset(applicant):
            errors.extend({"field": str(k), "message": "Extra inputs are not permitted"}
                          for k in applicant if k not in self._names)
        return values, errors

    def score_values(self, values: Sequence[float | str | None], *, with_points: bool = False) -> dict[str, Any]:
        """Score validated values (signature order): PD, score, grade, decision, reasons (and points per line)."""
        derived = []
        for item, inputs in self._derived_plan:
            parts = [values[i] for i in inputs]
            derived.append(math.nan if None in parts else item.value(parts))
        total = 0.0
        lost = []
        chosen = []
        for j, (is_category, source, cuts, lookup, points, missing_bin, best) in enumerate(self._lines):
            value = values[source] if source >= 0 else derived[-source - 1]
            if value is None or value != value:
                index = missing_bin
            elif is_category:
                index = lookup[value]
            else:
                index = bisect_right(cuts, value)
            line_points = points[index]
            total += line_points
            chosen.append(index)
            lost.append((line_points - best, j))  # most negative = costs most points
        lost.sort()
        return self._result(total=total, chosen=chosen, lost=lost, with_points=with_points)

    def _result(self, *, total: float, chosen: list[int], lost: list[tuple[float, int]], with_points: bool) -> dict[str, Any]:
        policy = self.policy
        log_odds = (total - policy.offset) / policy.factor
        pd_value = 1.0 / (1.0 + math.exp(log_odds)) if log_odds > -700 else 1.0
        reasons = []
        for negative_lost, j in lost[: policy.max_reasons]:
            if -negative_lost < REASON_MIN_POINTS:
                break
            code, name, texts = self._reason_info[j]
            reasons.append({"code": code, "characteristic": name, "text": texts[chosen[j]],
                            "points_lost": round(-negative_lost, 1)})
        grade = self.grades[-1].grade
        for item in self.grades:
            if pd_value < item.pd_to:
                grade = item.grade
                break
        result = {
            "probability_of_default": pd_value,
            "score": int(round(total)),
            "grade": grade,
            "decision": "approve" if pd_value < policy.approve_below else
                        "decline" if pd_value >= policy.decline_from else "review",
            "reasons": reasons,
            "model": {"name": self.model_name, "version": self.model_version},
        }
        if with_points:
            result["points"] = {line.name: round(line.points[chosen[j]], 1)
                                for j, line in enumerate(self.characteristics) if line.active}
        return result

    def score_one(self, applicant: Mapping[str, Any]) -> dict[str, Any]:
        """Validate and score one applicant; raises `ApplicantInvalidError` naming every bad field."""
        values, errors = self.validate(applicant)
        if errors:
            raise ApplicantInvalidError(errors)
        return self.score_values(values)

    # ------------------------------------------------------------------ many applicants
    def score_frame(self, frame: pd.DataFrame) -> BatchResult:
        """Validate and score a table of applicants column by column; bad rows are reported, not scored.

        Columns that are not inputs (an applicant id, say) are ignored, so a CSV can carry them through.
        """
        columns, row_errors = self._validate_frame(frame)
        n = len(frame)
        total = np.zeros(n)
        chosen = np.zeros((n, len(self.characteristics)), dtype=np.int64)
        points = np.zeros((n, len(self.characteristics)))
        derived_columns = [
            d.values([columns[self.signature.features[i].name] for i in inputs])
            for d, inputs in zip(self.signature.derived, self._derived_inputs, strict=True)
        ]
        for j, line in enumerate(self.characteristics):
            column = columns[line.name] if line.source >= 0 else derived_columns[line.derived]
            if line.kind == "category":
                index = column  # already category codes, missing = -1
                index = np.where(index < 0, line.missing_bin, index)
            else:
                missing = np.isnan(column)
                index = np.searchsorted(line.cuts, np.where(missing, 0.0, column), side="right")
                index = np.where(missing, line.missing_bin, index)
            chosen[:, j] = index
            line_points = np.asarray(line.points)[index]
            points[:, j] = line_points
            total += line_points
        policy = self.policy
        log_odds = (total - policy.offset) / policy.factor
        pd_values = 1.0 / (1.0 + np.exp(np.clip(log_odds, -700, 700)))
        return BatchResult(scorecard=self, pd=pd_values, score_points=total, chosen=chosen, points=points,
                           row_errors=row_errors, inputs=columns)

    def _validate_frame(self, frame: pd.DataFrame) -> tuple[dict[str, np.ndarray], dict[int, list[dict[str, str]]]]:
        n = len(frame)
        row_errors: dict[int, list[dict[str, str]]] = {}
        columns: dict[str, np.ndarray] = {}

        def flag(mask: np.ndarray, name: str, message: str) -> None:
            for row in np.flatnonzero(mask).tolist():
                row_errors.setdefault(row, []).append({"field": name, "message": message})

        for (name, kind, nullable, minimum, maximum, categories), line_categories in zip(
            self._inputs, self._input_categories, strict=True
        ):
            if name not in frame.columns:
                if not nullable:
                    flag(np.ones(n, dtype=bool), name, "Field required")
                columns[name] = np.full(n, -1, dtype=np.int64) if kind == "category" else np.full(n, np.nan)
                continue
            raw = frame[name]
            missing = _missing_mask(raw)
            if not nullable:
                flag(missing, name, "Field required")
            if kind == "category":
                array = raw.to_numpy(dtype=object)
                if pd.api.types.infer_dtype(array, skipna=True) in ("string", "empty"):
                    text = ~missing
                else:  # JSON numbers, objects or lists where a category belongs: never looked up
                    text = np.fromiter((type(v) is str for v in array), dtype=bool, count=n)
                codes = category_codes(pd.Series(np.where(text, array, None), dtype=object), line_categories)
                flag(~text & ~missing, name, "Input should be a valid string")
                flag((codes < 0) & text & ~missing, name, "Input should be " + _choices(categories))
                columns[name] = np.where(missing, -1, codes)
                continue
            if raw.dtype.kind in "iuf":
                values = raw.to_numpy(dtype=float)
            elif raw.dtype.kind == "b":
                values = np.full(n, np.nan)
            else:
                values = _numbers_from_objects(raw.to_numpy(dtype=object), missing)
            not_number = np.isnan(values) & ~missing
            flag(not_number, name, "Input should be a valid number")
            finite = np.isfinite(values)
            flag(~finite & ~np.isnan(values), name, "Input should be a finite number")
            checked = np.where(finite, values, 0.0)
            fractional = np.zeros(n, dtype=bool)
            if kind == "integer":
                fractional = finite & (np.mod(checked, 1) != 0)
                flag(fractional, name, "Input should be a valid integer")
            if minimum is not None:
                flag(finite & ~fractional & (checked < minimum), name, f"Input should be greater than or equal to {minimum}")
            if maximum is not None:
                flag(finite & ~fractional & (checked > maximum), name, f"Input should be less than or equal to {maximum}")
            columns[name] = np.where(finite, values, np.nan)
        return columns, row_errors


def _choices(categories: frozenset[str] | Sequence[str]) -> str:
    ordered = sorted(categories)
    if len(ordered) == 1:
        return f"'{ordered[0]}'"
    return ", ".join(f"'{c}'" for c in ordered[:-1]) + f" or '{ordered[-1]}'"


def _numbers_from_objects(array: np.ndarray, missing: np.ndarray) -> np.ndarray:
    """Numbers from an object column (JSON values or CSV text); anything else becomes NaN (a type error).

    All-text columns (a CSV upload) take numpy's C parser and fall back to pandas only
    when some cell is not a number; booleans are never numbers.
    """
    kind = pd.api.types.infer_dtype(array, skipna=True)
    if kind in ("string", "empty"):
        try:
            return np.where(missing, "nan", array).astype(np.float64)
        except ValueError:
            pass
    elif kind in ("integer", "floating", "mixed-integer-float", "decimal"):
        return np.where(missing, np.nan, array).astype(np.float64)
    elif kind in ("boolean",):
        return np.full(array.size, np.nan)
    booleans = np.fromiter((type(v) is bool for v in array), dtype=bool, count=array.size)
    cleaned = np.where(booleans | missing, np.nan, array)
    return pd.to_numeric(pd.Series(cleaned, copy=False), errors="coerce").to_numpy(dtype=float)


def _missing_mask(raw: pd.Series) -> np.ndarray:
    """None, NaN and empty text (an empty CSV cell or form field) are missing."""
    missing = raw.isna().to_numpy().copy()
    if raw.dtype.kind not in "iufb":
        missing |= raw.to_numpy(dtype=object) == ""
    return missing


class ApplicantInvalidError(ValueError):
    """An application failed validation; `errors` names every bad field."""

    def __init__(self, errors: list[dict[str, str]]) -> None:
        super().__init__(f"{len(errors)} invalid field(s): " + ", ".join(e["field"] for e in errors))
        self.errors = errors


@dataclasses.dataclass
class BatchResult:
    """Scores of a table; rows listed in `row_errors` were not valid and carry no result."""

    scorecard: CompiledScorecard
    pd: np.ndarray
    score_points: np.ndarray
    chosen: np.ndarray
    points: np.ndarray
    row_errors: dict[int, list[dict[str, str]]]
    inputs: dict[str, np.ndarray]  # validated columns: numbers as float (NaN = missing), categories as codes

    def applicants(self) -> list[dict[str, Any] | None]:
        """The validated inputs of each row as typed values (None for invalid rows), e.g. for the decision log."""
        card = self.scorecard
        lines = {c.name: c for c in card.characteristics}
        columns = []
        for spec in card.signature.features:
            column = self.inputs[spec.name]
            if spec.kind == "category":
                labels = list(lines[spec.name].categories)
                columns.append([labels[c] if c >= 0 else None for c in column.tolist()])
            elif spec.kind == "integer":
                columns.append([None if v != v else int(v) for v in column.tolist()])
            else:
                columns.append([None if v != v else v for v in column.tolist()])
        names = card.signature.names
        valid = self.valid.tolist()
        return [dict(zip(names, values, strict=True)) if ok else None
                for ok, values in zip(valid, zip(*columns, strict=True), strict=True)]

    @property
    def valid(self) -> np.ndarray:
        mask = np.ones(self.pd.size, dtype=bool)
        if self.row_errors:
            mask[list(self.row_errors)] = False
        return mask

    def columns(self) -> dict[str, np.ndarray]:
        """The results as columns (what a CSV gets appended), computed without a per-row Python loop.

        Invalid rows hold empty values.  Reasons are ranked by points lost with a
        stable sort, so ties keep the characteristic order like the single path.
        """
        card = self.scorecard
        n = self.pd.size
        valid = self.valid
        edges = np.array([g.pd_to for g in card.grades[:-1]])
        letters = np.array([g.grade for g in card.grades], dtype=object)
        policy = card.policy
        decisions = np.where(self.pd < policy.approve_below, "approve",
                             np.where(self.pd >= policy.decline_from, "decline", "review")).astype(object)
        result: dict[str, np.ndarray] = {
            "probability_of_default": np.where(valid, self.pd, np.nan),
            "score": np.where(valid, np.round(self.score_points), np.nan),
            "grade": np.where(valid, letters[np.searchsorted(edges, self.pd, side="right")], ""),
            "decision": np.where(valid, decisions, ""),
        }
        lines = card.characteristics
        max_points = np.array([c.max_points for c in lines])
        lost = max_points[None, :] - self.points
        k = min(policy.max_reasons, len(lines))
        order = np.argsort(-lost, axis=1, kind="stable")[:, :k]
        offsets = np.cumsum([0] + [len(c.reasons) for c in lines[:-1]])
        texts = np.array([t for c in lines for t in c.reasons], dtype=object)
        codes = np.array([c.name.upper() for c in lines], dtype=object)
        rows = np.arange(n)
        for rank in range(policy.max_reasons):
            if rank < k:
                j = order[:, rank]
                points_lost = lost[rows, j]
                shown = valid & (points_lost >= REASON_MIN_POINTS)
                result[f"reason_{rank + 1}_code"] = np.where(shown, codes[j], "")
                result[f"reason_{rank + 1}_text"] = np.where(shown, texts[offsets[j] + self.chosen[rows, j]], "")
                result[f"reason_{rank + 1}_points_lost"] = np.where(shown, np.round(points_lost, 1), np.nan)
            else:
                result[f"reason_{rank + 1}_code"] = np.full(n, "", dtype=object)
                result[f"reason_{rank + 1}_text"] = np.full(n, "", dtype=object)
                result[f"reason_{rank + 1}_points_lost"] = np.full(n, np.nan)
        return result

    def records(self) -> list[dict[str, Any] | None]:
        """One result dict per row (None for invalid rows), in the shape of `score_one`."""
        card = self.scorecard
        columns = self.columns()
        model = {"name": card.model_name, "version": card.model_version}
        valid = self.valid.tolist()
        pd_values = self.pd.tolist()
        scores = columns["score"].tolist()
        grades = columns["grade"].tolist()
        decisions = columns["decision"].tolist()
        reason_columns = [
            (columns[f"reason_{r}_code"].tolist(), columns[f"reason_{r}_text"].tolist(),
             columns[f"reason_{r}_points_lost"].tolist(), [line.name for line in card.characteristics])
            for r in range(1, card.policy.max_reasons + 1)
        ]
        by_code = {line.name.upper(): line.name for line in card.characteristics}
        out: list[dict[str, Any] | None] = []
        for row in range(len(valid)):
            if not valid[row]:
                out.append(None)
                continue
            reasons = []
            for codes, texts, lost, _names in reason_columns:
                if not codes[row]:
                    break
                reasons.append({"code": codes[row], "characteristic": by_code[codes[row]], "text": texts[row],
                                "points_lost": lost[row]})
            out.append({"probability_of_default": pd_values[row], "score": int(scores[row]), "grade": grades[row],
                        "decision": decisions[row], "reasons": reasons, "model": model})
        return out


def scorecard_compile(
    *, model: Any, signature: Signature, policy: ScorePolicy, grades: Sequence[Grade],
    model_name: str, model_version: str,
) -> CompiledScorecard:
    """Read a fitted champion (see `common.credit.models.scorecard_parts`) into a `CompiledScorecard`."""
    from common.credit.models import scorecard_parts

    binner, regression, a, b = scorecard_parts(model)
    coefficients = regression.coef_[0]
    # P(bad) = 1 / (1 + exp(a z + b)) so ln(good:bad) = a z + b = a*intercept + b + sum a*coef_j*woe_j
    constant = a * float(regression.intercept_[0]) + b
    factor, offset = policy.factor, policy.offset
    active_count = max(int(np.count_nonzero(coefficients)), 1)
    share = (offset + factor * constant) / active_count
    names = signature.names
    derived_names = [d.name for d in signature.derived]
    lines = []
    for j, item in enumerate(binner.characteristics_):
        weight = a * float(coefficients[j])
        woe = [*item["woe"], item["missing_woe"]]
        contributions = tuple(weight * w for w in woe)
        active = coefficients[j] != 0
        points = tuple(factor * c + (share if active else 0.0) for c in contributions)
        source = names.index(item["name"]) if item["name"] in names else -1
        spec: FeatureSpec | DerivedFeature
        if source >= 0:
            spec = signature.features[source]
            nullable = spec.nullable
            label = spec.title
        else:
            spec = signature.derived[derived_names.index(item["name"])]
            denominators = spec.inputs[spec.numerator_count:] if spec.kind == "ratio" else ()
            nullable = any(signature.feature(n).nullable for n in spec.inputs) or any(
                signature.feature(n).minimum is None or signature.feature(n).minimum <= 0 for n in denominators
            )
            label = spec.label or spec.name
        reachable = list(points[:-1]) + ([points[-1]] if nullable else [])
        bin_labels = _bin_labels(kind=item["kind"], cuts=item["cuts"], categories=item["categories"])
        lines.append(
            Characteristic(
                name=item["name"], label=label, kind=item["kind"], cuts=tuple(item["cuts"]),
                categories=tuple(item["categories"]), contributions=contributions, points=points,
                max_points=max(reachable), bin_labels=tuple(bin_labels),
                reasons=tuple(_reason_texts(label=label, kind=item["kind"], bin_labels=bin_labels, points=points)),
                active=bool(active), source=source,
                derived=derived_names.index(item["name"]) if source < 0 else -1,
            )
        )
    return CompiledScorecard(
        model_name=model_name, model_version=model_version, signature=signature, characteristics=tuple(lines),
        constant=constant, policy=policy, grades=tuple(grades),
    )
