"""The model card of the served maintenance models: what they are, what data, how good, and charts."""

from __future__ import annotations

from typing import Any

from common.maintenance import charts
from common.maintenance.schemas import ModelInfoOut, ModelsOut
from common.registry import LoadedModel


def _info(loaded: LoadedModel | None) -> ModelInfoOut | None:
    if loaded is None:
        return None
    meta = loaded.metadata
    data = meta.get("training_data") or {}
    return ModelInfoOut(
        name=loaded.name, version=loaded.version, created=meta.get("created"), algorithm=meta.get("algorithm"),
        dataset=data.get("dataset"), data_source=data.get("source"),
        metrics={k: float(v) for k, v in (meta.get("metrics") or {}).items() if isinstance(v, (int, float))},
        evaluation=meta.get("evaluation") or {},
    )


def models_describe(*, failure: LoadedModel | None, rul: LoadedModel | None, rul_horizon_cycles: int) -> ModelsOut:
    """`GET /model`: both served models (None when not trained yet) and the alert settings."""
    threshold = float(failure.artifact.threshold_) if failure is not None else None
    return ModelsOut(failure=_info(failure), rul=_info(rul), alert_threshold=threshold,
                     rul_horizon_cycles=rul_horizon_cycles)


def model_card_charts(*, failure: LoadedModel | None, rul: LoadedModel | None) -> dict[str, str]:
    """SVG charts: PR curve and confusion matrix at the alert threshold; predicted vs true RUL."""
    svgs: dict[str, str] = {}
    if failure is not None:
        card = failure.metadata.get("model_card") or {}
        metrics = failure.metadata.get("metrics") or {}
        threshold = float(failure.artifact.threshold_)
        if card.get("pr_curve"):
            operating = (float(metrics["recall"]), float(metrics["precision"])) if "recall" in metrics else None
            svgs["pr_curve"] = charts.pr_curve_svg(points=card["pr_curve"], operating=operating, threshold=threshold,
                                                   base_rate=metrics.get("failure_rate"))
        matrix = card.get("confusion_matrix")
        if matrix:
            svgs["confusion_matrix"] = charts.confusion_matrix_svg(threshold=threshold, **matrix)
    if rul is not None:
        pairs = (rul.metadata.get("model_card") or {}).get("rul_test")
        if pairs:
            svgs["rul_scatter"] = charts.rul_scatter_svg(pairs=pairs, cap=int(rul.artifact.cap))
    return svgs


def model_card_facts(*, loaded: LoadedModel | None) -> dict[str, Any] | None:
    """What the model card page prints about one model."""
    if loaded is None:
        return None
    meta = loaded.metadata
    data = meta.get("training_data") or {}
    return {
        "ref": loaded.ref, "created": meta.get("created"), "algorithm": meta.get("algorithm"),
        "params": meta.get("params") or {}, "metrics": meta.get("metrics") or {},
        "protocol": (meta.get("evaluation") or {}).get("protocol"), "target": (meta.get("evaluation") or {}).get("target"),
        "dataset": data.get("dataset"), "source": data.get("source"), "simulated": bool(data.get("simulated")),
        "rows": data.get("rows") or {}, "sha256": data.get("content_sha256"),
        "signature": meta.get("signature") or {},
    }
