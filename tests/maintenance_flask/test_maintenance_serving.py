"""The app served for real: concurrent ingestion over HTTP, the simulator client, the CLI commands, the compiled model."""

from __future__ import annotations

import threading
from typing import Any

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient

from common.cli import main as mlapps_main
from common.maintenance import prediction
from common.maintenance.schemas import FailureBatchOut, FailurePredictionOut, ReadingIn
from tests.maintenance_flask.support import HEALTHY_READING, HEAT_FAILURE_READING, POWER_FAILURE_READING, at, telemetry
from tests.support.servers import wsgi_server


def test_concurrent_clients_over_http_lose_nothing(app: Flask, auth: dict) -> None:
    errors: list[str] = []
    statuses: list[int] = []
    lock = threading.Lock()
    start = threading.Barrier(8)

    with wsgi_server(app) as base:

        def client(index: int) -> None:
            machine = f"cnc-{index % 4}"
            session = requests.Session()
            session.headers.update(auth)
            # Two clients per machine with overlapping timestamps; each batch is also resent once.
            seconds = list(range(index // 4 * 15, index // 4 * 15 + 30))
            start.wait()
            for chunk in range(0, 30, 6):
                batch = [telemetry(POWER_FAILURE_READING if s == 17 else HEALTHY_READING, at=at(s))
                         for s in seconds[chunk:chunk + 6]]
                for _ in range(2):
                    response = session.post(f"{base}/api/v1/machines/{machine}/readings", json=batch, timeout=60)
                    with lock:
                        statuses.append(response.status_code)
                        if response.status_code != 200:
                            errors.append(response.text)

        threads = [threading.Thread(target=client, args=(i,)) for i in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert not errors, errors[:3]
        assert statuses == [200] * 80
        fleet = requests.get(f"{base}/api/v1/machines", timeout=10).json()
        assert fleet["total"] == 4
        assert [m["readings"] for m in fleet["items"]] == [45, 45, 45, 45]  # 0-29 and 15-44: 45 distinct each
        open_alerts = requests.get(f"{base}/api/v1/alerts?open=true&page_size=50", timeout=10).json()
        assert sorted(a["machine_id"] for a in open_alerts["items"]) == ["cnc-0", "cnc-1", "cnc-2", "cnc-3"]


def test_the_simulator_streams_machines_that_raise_alerts(app: Flask, capsys: Any) -> None:
    """Without --token the simulator makes its own token in the local database (as in `mlapps demo`)."""
    with wsgi_server(app) as base:
        code = mlapps_main(["simulate", "maintenance", "--machines", "4", "--rate", "20", "--count", "3",
                            "--backfill", "40", "--url", base, "--seed", "1"])
        assert code == 0
        fleet = requests.get(f"{base}/api/v1/machines", timeout=10).json()
        assert sorted(m["machine_id"] for m in fleet["items"]) == [f"machine-0{i}" for i in range(1, 5)]
        assert all(m["readings"] == 43 for m in fleet["items"])
        assert all(m["latest_rul_cycles"] is not None for m in fleet["items"])
        alerts = requests.get(f"{base}/api/v1/alerts", timeout=10).json()
        assert alerts["total"] >= 1
    output = capsys.readouterr().out
    assert "created API token 'mlapps-simulate'" in output and "stored 172" in output


def test_the_simulator_with_a_wrong_token_stores_nothing(app: Flask, capsys: Any) -> None:
    with wsgi_server(app) as base:
        code = mlapps_main(["simulate", "maintenance", "--machines", "1", "--rate", "50", "--count", "1",
                            "--backfill", "2", "--url", base, "--token", "mlapps_wrong", "--quiet"])
        assert code == 1
        assert requests.get(f"{base}/api/v1/machines", timeout=10).json()["total"] == 0
    assert "HTTP 401" in capsys.readouterr().out


def test_the_simulator_reports_an_unreachable_app(capsys: Any) -> None:
    from common.maintenance import simulate

    client = simulate.TelemetryClient(url="http://127.0.0.1:9", token=None, timeout=1)
    assert not client.readings_send(machine_id="m", readings=[telemetry(HEALTHY_READING, at=at(0))])
    assert client.failures == 1 and "ConnectionError" in (client.last_error or "")
    assert mlapps_main(["simulate", "maintenance", "--rate", "0"]) == 2


def test_init_db_command_creates_the_tables(app: Flask) -> None:
    result = app.test_cli_runner().invoke(args=["init-db"])
    assert result.exit_code == 0 and "tables ready" in result.output


def test_production_entry_points_import() -> None:
    import maintenance_flask.gunicorn_conf as conf
    import maintenance_flask.wsgi as wsgi

    assert wsgi.app.name == "maintenance_flask"
    assert conf.worker_class == "sync" and conf.preload_app is True



def test_predictions_are_served_by_the_compiled_trees_with_unchanged_answers(
    client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    readings = [HEALTHY_READING, POWER_FAILURE_READING, HEAT_FAILURE_READING]
    served = [client.post("/api/v1/predict/failure", json=r).get_json() for r in readings]
    loaded = client.application.extensions["maintenance"].failure_loaded()
    # The scikit-learn pipelines (what the endpoint used before) give the same answers.
    assert served == [prediction._failure_answers_pipelines(loaded=loaded, readings=[ReadingIn(**r)], explain=True)[0]
                      for r in readings]
    batch = client.post("/api/v1/predict/failure", json=readings).get_json()
    assert batch == {"predictions": served}

    def refuse(**_kwargs: Any) -> None:
        raise AssertionError("the scikit-learn pipelines served a few readings")

    monkeypatch.setattr(prediction, "_failure_answers_pipelines", refuse)
    assert [client.post("/api/v1/predict/failure", json=r).get_json() for r in readings] == served
    assert client.post("/api/v1/predict/failure", json=readings).get_json() == batch


def test_the_benchmark_reading_and_batches_are_explained_as_the_pipelines_explain_them(client: FlaskClient) -> None:
    """The reading `mlapps compare` sends, and readings near the physics limits, one by one and as one batch."""
    benchmark = {"product_type": "L", "air_temperature_k": 300.1, "process_temperature_k": 310.2,
                 "rotational_speed_rpm": 1500.0, "torque_nm": 40.0, "tool_wear_min": 100.0}
    readings = [benchmark, {**benchmark, "tool_wear_min": 210}, {**POWER_FAILURE_READING, "torque_nm": 69.3},
                {**HEAT_FAILURE_READING, "rotational_speed_rpm": 1381}, {**HEALTHY_READING, "torque_nm": 62.0}]
    loaded = client.application.extensions["maintenance"].failure_loaded()
    expected = prediction._failure_answers_pipelines(loaded=loaded, readings=[ReadingIn(**r) for r in readings],
                                                  explain=True)
    assert [client.post("/api/v1/predict/failure", json=r).get_json() for r in readings] == expected
    assert client.post("/api/v1/predict/failure", json=readings).get_json() == {"predictions": expected}


def test_the_answer_is_the_models_json_byte_for_byte(client: FlaskClient) -> None:
    """The view writes the answers without building the response models: the same bytes as the models' JSON."""
    benchmark = {"product_type": "L", "air_temperature_k": 300.1, "process_temperature_k": 310.2,
                 "rotational_speed_rpm": 1500.0, "torque_nm": 40.0, "tool_wear_min": 100.0}
    readings = [benchmark, POWER_FAILURE_READING, HEAT_FAILURE_READING, {**HEALTHY_READING, "tool_wear_min": 230}]
    loaded = client.application.extensions["maintenance"].failure_loaded()
    expected = [FailurePredictionOut.model_validate(answer) for answer in prediction._failure_answers_pipelines(
        loaded=loaded, readings=[ReadingIn(**r) for r in readings], explain=True)]
    for reading, model in zip(readings, expected, strict=True):
        response = client.post("/api/v1/predict/failure", json=reading)
        assert response.status_code == 200 and response.mimetype == "application/json"
        assert response.data == model.model_dump_json().encode()
    batch = client.post("/api/v1/predict/failure", json=readings)
    assert batch.data == FailureBatchOut(predictions=expected).model_dump_json().encode()
