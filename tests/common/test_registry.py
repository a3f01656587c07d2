import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from common.registry import (
    ArtifactIntegrityError,
    CurrentModel,
    LibraryVersionWarning,
    ModelNotFoundError,
    ModelRegistry,
    ModelUnavailableError,
    RegistryError,
)

X = np.array([[0.0, 1.0], [1.0, 0.0], [2.0, 1.0], [3.0, 0.0], [4.0, 1.0], [5.0, 0.0]])
Y = np.array([0, 0, 0, 1, 1, 1])


def fitted_pipeline(c: float = 1.0):
    return make_pipeline(StandardScaler(), LogisticRegression(C=c)).fit(X, Y)


def save(registry: ModelRegistry, *, c: float = 1.0, promote: bool = True):
    return registry.save(
        name="toy",
        artifact=fitted_pipeline(c),
        metadata={"algorithm": "logistic_regression", "params": {"C": c}, "metrics": {"roc_auc": 1.0}},
        promote=promote,
    )


@pytest.fixture
def registry(tmp_path):
    return ModelRegistry(tmp_path / "models")


def test_saved_pipeline_loads_back_with_metadata_and_predicts_the_same(registry):
    stored = save(registry)
    loaded = registry.load("toy")
    assert loaded.version == stored.version == "1"
    assert loaded.metadata["algorithm"] == "logistic_regression"
    assert loaded.metadata["library_versions"]["scikit-learn"]
    assert len(loaded.metadata["artifact_sha256"]) == 64
    np.testing.assert_allclose(loaded.artifact.predict_proba(X), fitted_pipeline().predict_proba(X))


def test_versions_are_numbered_and_current_follows_promotion(registry):
    save(registry)
    save(registry, c=0.1, promote=False)
    assert [v.version for v in registry.versions("toy")] == ["1", "2"]
    assert registry.current_version("toy") == "1"
    registry.promote("toy", "2")
    assert registry.load("toy").metadata["params"] == {"C": 0.1}


def test_rollback_walks_back_through_promotions(registry):
    for c in (1.0, 0.5, 0.1):
        save(registry, c=c)
    assert registry.current_version("toy") == "3"
    assert registry.rollback("toy").version == "2"
    assert registry.rollback("toy").version == "1"
    with pytest.raises(RegistryError):
        registry.rollback("toy")


def test_a_version_folder_is_never_overwritten(registry):
    first = save(registry)
    before = (first.path / "artifact.joblib").read_bytes()
    save(registry, c=0.01)
    assert (first.path / "artifact.joblib").read_bytes() == before
    assert registry.get("toy", "1").metadata["params"] == {"C": 1.0}


def test_tampered_artifact_is_refused_before_deserialising(registry):
    stored = save(registry)
    with open(stored.path / "artifact.joblib", "ab") as handle:
        handle.write(b"tampered")
    with pytest.raises(ArtifactIntegrityError, match="sha256"):
        registry.load("toy")


def test_arrays_are_checksummed_and_memory_mapped(registry):
    matrix = np.arange(12, dtype=np.float32).reshape(3, 4)
    stored = registry.save(name="arrays", artifact={"kind": "test"}, metadata={}, arrays={"scores": matrix})
    loaded = registry.load("arrays")
    assert isinstance(loaded.arrays["scores"], np.memmap)
    np.testing.assert_array_equal(loaded.arrays["scores"], matrix)
    data = bytearray((stored.path / "scores.npy").read_bytes())
    data[-1] ^= 0xFF
    (stored.path / "scores.npy").write_bytes(bytes(data))
    with pytest.raises(ArtifactIntegrityError, match="scores.npy"):
        registry.load("arrays")


def test_library_version_mismatch_warns(registry):
    stored = save(registry)
    meta_path = stored.path / "metadata.json"
    meta = json.loads(meta_path.read_text())
    meta["library_versions"]["scikit-learn"] = "0.0.1"
    meta_path.write_text(json.dumps(meta))
    with pytest.warns(LibraryVersionWarning, match="scikit-learn 0.0.1"):
        registry.load("toy")


def test_unknown_model_names_the_training_command(registry):
    with pytest.raises(ModelNotFoundError, match="mlapps train"):
        registry.load("missing")


def test_killed_save_leaves_no_visible_version(tmp_path):
    root = tmp_path / "models"
    script = textwrap.dedent(
        f"""
        import sys, time, joblib
        from common.registry import ModelRegistry
        real_dump = joblib.dump
        def slow_dump(obj, path, *a, **k):
            real_dump(obj, path, *a, **k)
            print("dumped", flush=True)
            time.sleep(60)
        joblib.dump = slow_dump
        ModelRegistry({str(root)!r}).save(name="toy", artifact=list(range(1000)), metadata={{}})
        """
    )
    process = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == "dumped"
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    registry = ModelRegistry(root)
    assert registry.versions("toy") == []
    assert registry.current_version("toy") is None
    assert save(registry).version == "1"


def test_current_model_reloads_after_promotion_and_reports_damage(registry):
    save(registry)
    current = CurrentModel(registry, "toy", check_interval=0.0)
    assert current.get().version == "1"
    assert current.status() == (True, "toy@1 loaded")
    second = save(registry, c=0.1)
    assert current.get().version == "2"
    with open(second.path / "artifact.joblib", "r+b") as handle:
        handle.write(b"garbage")
    time.sleep(0.01)
    registry.promote("toy", "2")  # re-promoting the damaged version changes the alias
    with pytest.raises(ModelUnavailableError, match="sha256"):
        current.get()
    ready, reason = current.status()
    assert not ready and "toy" in reason
    registry.promote("toy", "1")
    assert current.get().version == "1"


def test_current_model_without_any_version_is_unavailable(registry):
    with pytest.raises(ModelUnavailableError, match="mlapps train"):
        CurrentModel(registry, "toy").get()
