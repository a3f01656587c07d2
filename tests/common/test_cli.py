"""The `mlapps` command end to end, as a user runs it (a real subprocess)."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from common.registry import ModelRegistry


def mlapps(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [sys.executable, "-m", "common.cli", *args], capture_output=True, text=True, env=os.environ.copy(), timeout=120
    )
    if check and result.returncode != 0:
        raise AssertionError(f"mlapps {' '.join(args)} failed ({result.returncode}):\n{result.stderr}")
    return result


def test_data_list_says_where_each_dataset_comes_from(mirror_dir, monkeypatch):
    monkeypatch.setenv("MLAPPS_DATA_MIRROR", str(mirror_dir))
    lines = {line.split()[0]: line for line in mlapps("data", "list").stdout.splitlines()[2:]}
    assert "embedded" in lines["credit-data"]
    assert "mirror" in lines["ai4i-2020"]


def test_data_fetch_and_info(mirror_dir, monkeypatch):
    monkeypatch.setenv("MLAPPS_DATA_MIRROR", str(mirror_dir))
    fetched = mlapps("data", "fetch", "cmapss-fd001").stdout
    assert "train_FD001.txt" in fetched and "20631" in fetched
    info = json.loads(mlapps("data", "info", "ai4i-2020").stdout)
    assert info["licence"] == "CC BY 4.0" and info["source_now"] == "mirror"


def test_data_fetch_offline_without_copy_fails_with_the_reason(monkeypatch, tmp_path):
    monkeypatch.setenv("MLAPPS_DATA_MIRROR", str(tmp_path / "nowhere"))
    result = mlapps("data", "fetch", "movielens-100k", check=False)
    assert result.returncode == 2
    assert "movielens-100k" in result.stderr and "MLAPPS_DATA_MIRROR" in result.stderr


def test_models_list_show_promote_rollback(isolated_settings):
    registry = ModelRegistry(isolated_settings.model_store_dir)
    model = LogisticRegression().fit(np.array([[0.0], [1.0], [2.0], [3.0]]), [0, 0, 1, 1])
    for auc in (0.81, 0.84):
        registry.save(name="toy", artifact=model, metadata={"algorithm": "logreg", "metrics": {"roc_auc": auc}})
    listing = mlapps("models", "list").stdout
    assert "toy" in listing and "roc_auc=0.84" in listing
    current_row = next(line for line in listing.splitlines() if line.startswith("toy") and "*" in line)
    assert current_row.split()[1] == "2"
    shown = json.loads(mlapps("models", "show", "toy@1").stdout)
    assert shown["metrics"]["roc_auc"] == 0.81 and shown["version"] == "1"
    assert "toy@1 is now current" in mlapps("models", "promote", "toy", "1").stdout
    assert registry.current_version("toy") == "1"
    assert "toy@2 is now current" in mlapps("models", "rollback", "toy").stdout
    missing = mlapps("models", "show", "toy@9", check=False)
    assert missing.returncode == 2 and "not found" in missing.stderr


def test_tokens_create_list_revoke_for_a_flask_app(isolated_settings):
    token = mlapps("tokens", "create", "credit", "alice").stdout.strip()
    assert token.startswith("mlapps_") and len(token) > 40
    from common.auth import TokenStore
    from common.db import engine_for_app

    store = TokenStore(engine_for_app("credit"))
    assert store.token_verify(token) == "alice"
    assert store.token_verify(token + "x") is None
    assert "alice" in mlapps("tokens", "list", "credit").stdout
    assert "revoked 1" in mlapps("tokens", "revoke", "credit", "alice").stdout
    assert store.token_verify(token) is None
    database_files = list((isolated_settings.var_dir).glob("credit.sqlite3*"))
    assert database_files, "tokens live in the app's own database"
    assert token.encode() not in (isolated_settings.var_dir / "credit.sqlite3").read_bytes()


def test_unknown_scenario_is_a_clear_error():
    result = mlapps("train", "nonsense", check=False)
    assert result.returncode == 2 and "unknown scenario" in result.stderr


@pytest.mark.parametrize("argv", [["serve", "nope"], ["data"], ["models", "promote", "toy"]])
def test_usage_errors_exit_2_with_usage(argv):
    result = mlapps(*argv, check=False)
    assert result.returncode == 2 and "usage:" in result.stderr
