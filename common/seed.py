"""The article's example, kept working: a logistic regression on 10 numeric credit features.

The project began from an article that trains a scikit-learn LogisticRegression
(`train_test_split(test_size=0.2, random_state=42)`, accuracy printed), saves it
with `joblib.dump(model, 'model.pkl')` and serves it from Flask
(`POST /predict`, JSON `{"features": [...]}`) and Django (`POST /api/predict/`,
form fields `feature_0` ... `feature_9`).  `mlapps train seed` produces that
artifact from the embedded `credit-data` applicants; both apps serve it through
the framework-free helpers below, so the two endpoints answer alike::

    {"prediction": 1, "probability": 0.8123}     # 1 = "bad" (defaulted), probability of 1

The ten features, in order (`features[i]` is form field `feature_i`):

    0 seniority  years with the current employer
    1 time       requested loan term, months
    2 age        years
    3 expenses   monthly expenses
    4 income     monthly income (missing values imputed by the training median)
    5 assets     assets
    6 debt       debt
    7 amount     requested loan amount
    8 price      price of the goods bought with the loan
    9 records    1 if the applicant has previous default records, else 0

Serving is lean on purpose: the fitted pipeline (median imputer -> standard
scaler -> logistic regression) is reduced once per loaded version to plain
Python floats, and a request costs ten multiply-adds and one `exp` instead of a
numpy round trip; `SeedScorer` is proven equal to `predict`/`predict_proba` in
the tests.  Anything that is not this pipeline shape falls back to scikit-learn.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

from common.problems import problem_body, validation_problem
from common.registry import CurrentModel, LoadedModel, ModelRegistry
from common.training import Progress, TrainOptions, TrainResult

SEED_MODEL_NAME = "seed"
SEED_DATASET = "credit-data"


@dataclasses.dataclass(frozen=True)
class SeedFeature:
    name: str
    column: str  # column of the credit-data applicants frame
    description: str


SEED_FEATURES: tuple[SeedFeature, ...] = (
    SeedFeature("seniority", "Seniority", "years with the current employer"),
    SeedFeature("time", "Time", "requested loan term, months"),
    SeedFeature("age", "Age", "age, years"),
    SeedFeature("expenses", "Expenses", "monthly expenses"),
    SeedFeature("income", "Income", "monthly income"),
    SeedFeature("assets", "Assets", "assets"),
    SeedFeature("debt", "Debt", "debt"),
    SeedFeature("amount", "Amount", "requested loan amount"),
    SeedFeature("price", "Price", "price of the goods bought with the loan"),
    SeedFeature("records", "Records", "1 if the applicant has previous default records, else 0"),
)
FEATURE_COUNT = len(SEED_FEATURES)
FORM_FIELDS = tuple(f"feature_{index}" for index in range(FEATURE_COUNT))
_FORM_FIELD_PATTERN = re.compile(r"^feature_(\d+)$")
_FEATURE_NAMES = ", ".join(feature.name for feature in SEED_FEATURES)


# --------------------------------------------------------------------------- schemas
FiniteNumber = Annotated[float, Field(strict=True, allow_inf_nan=False)]


class SeedPredictJSONIn(BaseModel):
    """The article's JSON request: `{"features": [f0, ..., f9]}` (numbers, in `SEED_FEATURES` order)."""

    model_config = ConfigDict(extra="ignore")

    features: Annotated[list[FiniteNumber], Field(min_length=FEATURE_COUNT, max_length=FEATURE_COUNT)]


# The article's form request: `feature_0` ... `feature_9` (text that parses as a finite number).
SeedPredictFormIn: type[BaseModel] = create_model(
    "SeedPredictFormIn",
    __config__=ConfigDict(extra="ignore"),
    **{name: (Annotated[float, Field(allow_inf_nan=False)], ...) for name in FORM_FIELDS},
)


class SeedPredictionOut(BaseModel):
    """The article's response plus the probability: `{"prediction": 0|1, "probability": P(1)}`."""

    prediction: int = Field(description="1 = bad (defaulted), 0 = good")
    probability: float = Field(ge=0.0, le=1.0, description="probability of prediction 1")


class SeedInputError(ValueError):
    """The request does not carry 10 finite numbers; `errors` names every problem."""

    def __init__(self, errors: list[dict[str, str]]) -> None:
        super().__init__("; ".join(f"{e['field']}: {e['message']}" for e in errors))
        self.errors = errors


def seed_problem(*, error: SeedInputError) -> dict[str, Any]:
    """The 400 problem+json body of a bad seed request."""
    return validation_problem(error.errors, status=400)


def seed_method_problem(*, method: str) -> dict[str, Any]:
    return problem_body(status=405, detail=f"{method} is not allowed here; send POST with the features")


def seed_unavailable_problem(*, reason: str) -> dict[str, Any]:
    return problem_body(status=503, detail=reason)


def _count_message(actual: int) -> str:
    return f"expected {FEATURE_COUNT} numbers ({_FEATURE_NAMES}), got {actual}"


def _errors_from_pydantic(exc: ValidationError) -> list[dict[str, str]]:
    errors = []
    for error in exc.errors(include_url=False):
        location = ".".join(str(part) for part in error["loc"]) or "(body)"
        message = error["msg"]
        if error["type"] in ("too_short", "too_long"):
            message = _count_message(len(error["input"]))
        elif error["type"] in ("float_type", "float_parsing"):
            message = f"must be a number, got {_shorten(repr(error['input']))}"
        elif error["type"] == "finite_number":
            message = f"must be a finite number, got {_shorten(repr(error['input']))}"
        elif error["type"] == "missing" and location == "features":
            message = f"required: a list of {FEATURE_COUNT} numbers ({_FEATURE_NAMES})"
        errors.append({"field": location, "message": message})
    return errors


def _shorten(text: str, *, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def seed_features_from_json(*, payload: Any) -> list[float]:
    """Features of a JSON body: `{"features": [...]}` (the article) or `{"feature_0": ..., ...}`."""
    if isinstance(payload, dict) and "features" not in payload and any(k.startswith("feature_") for k in payload):
        return seed_features_from_form(form={k: v for k, v in payload.items() if isinstance(k, str)})
    if not isinstance(payload, dict):
        raise SeedInputError(
            [{"field": "(body)", "message": f'expected a JSON object {{"features": [{FEATURE_COUNT} numbers]}}'}]
        )
    features = payload.get("features")
    if type(features) is list and len(features) == FEATURE_COUNT:
        try:  # the common case, without building a model
            values = [float(value) for value in features if type(value) in (float, int)]
        except OverflowError:
            values = []
        if len(values) == FEATURE_COUNT and all(map(math.isfinite, values)):
            return values
    try:
        return SeedPredictJSONIn.model_validate(payload).features
    except ValidationError as exc:
        raise SeedInputError(_errors_from_pydantic(exc)) from None


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not valid JSON")


# Built once: `json.loads(..., parse_constant=...)` would build a decoder on every request.
_JSON_DECODER = json.JSONDecoder(parse_constant=_refuse_constant)


def seed_features_from_body(*, raw: bytes) -> list[float]:
    """Features of a raw (UTF-8) JSON body; malformed JSON is a 400 problem like a bad feature."""
    try:
        payload = _JSON_DECODER.decode(raw.decode("utf-8-sig"))
    except json.JSONDecodeError as exc:
        message = f"malformed JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        raise SeedInputError([{"field": "(body)", "message": message}]) from None
    except (ValueError, RecursionError) as exc:  # NaN/Infinity, bad UTF-8, absurd nesting
        message = f"malformed JSON: {_shorten(str(exc), limit=80)}"
        raise SeedInputError([{"field": "(body)", "message": message}]) from None
    return seed_features_from_json(payload=payload)


def seed_features_from_form(*, form: Mapping[str, Any]) -> list[float]:
    """Features of form fields `feature_0` ... `feature_9` (the article's Django request)."""
    unexpected = [
        {"field": key, "message": f"unexpected field: the model takes {FORM_FIELDS[0]} ... {FORM_FIELDS[-1]}"}
        for key in form
        if (match := _FORM_FIELD_PATTERN.match(key)) and int(match.group(1)) >= FEATURE_COUNT
    ]
    errors: list[dict[str, str]] = []
    try:
        parsed = SeedPredictFormIn.model_validate({k: form[k] for k in FORM_FIELDS if k in form})
    except ValidationError as exc:
        errors = _errors_from_pydantic(exc)
        for error in errors:
            if error["message"] == "Field required":
                error["message"] = f"required: {_feature_label(error['field'])}"
    if errors or unexpected:
        raise SeedInputError(errors + unexpected)
    return [getattr(parsed, name) for name in FORM_FIELDS]


def _feature_label(field: str) -> str:
    match = _FORM_FIELD_PATTERN.match(field)
    if match and int(match.group(1)) < FEATURE_COUNT:
        feature = SEED_FEATURES[int(match.group(1))]
        return f"{feature.name} ({feature.description})"
    return "a number"


# --------------------------------------------------------------------------- scoring
class SeedScorer:
    """Scores one loaded seed model; the lean path needs only Python floats.

    For a fitted `Pipeline(imputer -> scaler -> LogisticRegression)` the decision
    value is `intercept + sum(coef_i * (x_i - mean_i) / scale_i)` (the imputer
    changes nothing on finite inputs) and the probability is its logistic, exactly
    what scikit-learn computes; other artifacts are scored by scikit-learn itself.
    """

    def __init__(self, model: Any) -> None:
        self.model = model
        self._terms: tuple[tuple[float, float, float], ...] | None = None
        self._intercept = 0.0
        self._classes: tuple[int, int] = (0, 1)
        self._reduce(model)

    @property
    def lean(self) -> bool:
        return self._terms is not None

    def _reduce(self, model: Any) -> None:
        from sklearn.impute import SimpleImputer
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import Pipeline
        from sklearn.preprocessing import StandardScaler

        steps = [step for _, step in model.steps] if isinstance(model, Pipeline) else [model]
        *transforms, final = steps
        if not isinstance(final, LogisticRegression) or len(final.classes_) != 2:
            return
        coef = np.asarray(final.coef_, dtype=float).ravel()
        if coef.size != FEATURE_COUNT:
            return
        mean = np.zeros(FEATURE_COUNT)
        scale = np.ones(FEATURE_COUNT)
        for step in transforms:
            if isinstance(step, SimpleImputer) and step.add_indicator is False:
                continue  # finite inputs pass through an imputer unchanged
            if isinstance(step, StandardScaler):
                if step.mean_ is not None:
                    mean = np.asarray(step.mean_, dtype=float)
                if step.scale_ is not None:
                    scale = np.asarray(step.scale_, dtype=float)
                continue
            return  # an unknown step: let scikit-learn do the work
        self._terms = tuple(
            (float(c), float(m), float(s)) for c, m, s in zip(coef, mean, scale, strict=True)
        )
        self._intercept = float(np.asarray(final.intercept_).ravel()[0])
        self._classes = (int(final.classes_[0]), int(final.classes_[1]))

    def score(self, features: list[float]) -> tuple[int, float]:
        """(prediction, probability of class 1) of one applicant."""
        terms = self._terms
        if terms is None:
            row = np.asarray([features], dtype=float)
            probability = float(self.model.predict_proba(row)[0, 1])
            return int(self.model.predict(row)[0]), probability
        decision = self._intercept
        for value, (coef, mean, scale) in zip(features, terms, strict=True):
            decision += coef * ((value - mean) / scale)
        # scikit-learn: expit(decision); predict picks classes_[decision > 0]
        if decision >= 0:
            probability = 1.0 / (1.0 + math.exp(-decision))
        else:
            exp_decision = math.exp(decision)
            probability = exp_decision / (1.0 + exp_decision)
        return self._classes[1 if decision > 0 else 0], probability


class SeedService:
    """What a serving process keeps: the current seed model and its scorer, built once per version."""

    def __init__(self, registry: ModelRegistry, *, name: str = SEED_MODEL_NAME) -> None:
        self.current = CurrentModel(registry, name)
        self._lock = threading.Lock()
        self._scored: tuple[LoadedModel, SeedScorer] | None = None

    def scorer(self) -> SeedScorer:
        """The scorer of the current version (raises `ModelUnavailableError` -> 503)."""
        loaded = self.current.get()
        scored = self._scored
        if scored is not None and scored[0] is loaded:
            return scored[1]
        with self._lock:
            if self._scored is None or self._scored[0] is not loaded:
                self._scored = (loaded, SeedScorer(loaded.artifact))
            return self._scored[1]

    def preload(self) -> bool:
        """Load the model now (in the gunicorn master with preload, so workers share it); False if absent."""
        from common.registry import ModelUnavailableError

        try:
            self.scorer()
        except ModelUnavailableError:
            return False
        return True

    def prediction_create(self, *, features: list[float]) -> dict[str, Any]:
        prediction, probability = self.scorer().score(features)
        return {"prediction": prediction, "probability": probability}


# --------------------------------------------------------------------------- training
def seed_training_arrays(*, applicants: Any) -> tuple[np.ndarray, np.ndarray]:
    """X (n x 10, float, NaN where unknown) and y (1 = bad) from the credit-data applicants frame."""
    columns = []
    for feature in SEED_FEATURES:
        column = applicants[feature.column]
        if feature.name == "records":
            column = column.map({"yes": 1.0, "no": 0.0})
        columns.append(column.astype(float).to_numpy())
    features = np.column_stack(columns)
    target = (applicants["Status"] == "bad").astype(int).to_numpy()
    return features, target


def seed_pipeline(*, seed: int) -> Any:
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    return Pipeline(
        [
            ("imputer", SimpleImputer(strategy="median")),
            ("scaler", StandardScaler()),
            ("model", LogisticRegression(max_iter=1000, random_state=seed)),
        ]
    )


@dataclasses.dataclass(frozen=True)
class SeedRecipe:
    name: str = "seed"
    description: str = (
        "the article's LogisticRegression on 10 numeric credit-data features "
        "(train_test_split test_size=0.2, random_state=seed)"
    )
    models: tuple[str, ...] = (SEED_MODEL_NAME,)

    def __call__(self, *, options: TrainOptions, registry: ModelRegistry, progress: Progress) -> TrainResult:
        import joblib
        from sklearn.metrics import accuracy_score
        from sklearn.model_selection import StratifiedKFold, cross_val_score, train_test_split

        from common.datasets import frames_fingerprint, load_dataset
        from common.evaluation import classification_report

        dataset = options.dataset or SEED_DATASET
        if dataset != SEED_DATASET:
            raise ValueError(f"the seed recipe trains on {SEED_DATASET!r} only, not {dataset!r}")
        frames = load_dataset(dataset)
        features, target = seed_training_arrays(applicants=frames["applicants"])
        # The article's split, kept exactly: 80/20, no stratification, random_state=42 by default.
        x_train, x_test, y_train, y_test = train_test_split(
            features, target, test_size=0.2, random_state=options.seed
        )
        folds = 3 if options.quick else 5
        progress(f"{folds}-fold cross-validation on {len(y_train)} training rows")
        cv_auc = cross_val_score(
            seed_pipeline(seed=options.seed), x_train, y_train, scoring="roc_auc",
            cv=StratifiedKFold(n_splits=folds, shuffle=True, random_state=options.seed),
        )
        model = seed_pipeline(seed=options.seed).fit(x_train, y_train)
        accuracy = float(accuracy_score(y_test, model.predict(x_test)))
        progress(f"Accuracy: {accuracy:.4f}")  # the article prints the hold-out accuracy
        report = classification_report(y_true=y_test, y_prob=model.predict_proba(x_test)[:, 1])
        metrics = {"accuracy": accuracy, **report, "cv_roc_auc_mean": float(cv_auc.mean()),
                   "cv_roc_auc_std": float(cv_auc.std())}
        metadata = {
            "algorithm": "LogisticRegression (median imputer + standard scaler pipeline)",
            "params": {k: v for k, v in model.get_params().items() if "__" in k and _plain(v)},
            "metrics": metrics,
            "evaluation": {
                "protocol": f"hold-out: train_test_split(test_size=0.2, random_state={options.seed}), "
                f"no stratification, as in the article; {folds}-fold stratified CV ROC AUC on the "
                "training part; the model is fitted on the training part only",
                "train_rows": int(len(y_train)), "test_rows": int(len(y_test)),
                "positive_rate_test": float(y_test.mean()),
            },
            "training_data": frames_fingerprint(dataset=dataset, frames=frames),
            "signature": {
                "target": "Status == 'bad' -> 1, 'good' -> 0",
                "features": [
                    {"index": i, "name": f.name, "form_field": FORM_FIELDS[i], "source_column": f.column,
                     "type": "float", "description": f.description,
                     "range": [float(np.nanmin(features[:, i])), float(np.nanmax(features[:, i]))]}
                    for i, f in enumerate(SEED_FEATURES)
                ],
            },
        }
        version = registry.save(name=SEED_MODEL_NAME, artifact=model, metadata=metadata, promote=options.promote)
        export = options.extra.get("export")
        if export:
            joblib.dump(model, Path(export))  # the article's `joblib.dump(model, 'model.pkl')`
            progress(f"exported the model to {export}")
        row = {"model": version.ref, "accuracy": accuracy, "roc_auc": report["roc_auc"],
               "cv_roc_auc": float(cv_auc.mean()), "brier": report["brier"], "test_rows": int(len(y_test))}
        return TrainResult(versions=[version], metrics_rows=[row])


def _plain(value: Any) -> bool:
    return value is None or isinstance(value, (bool, int, float, str))


RECIPE = SeedRecipe()
