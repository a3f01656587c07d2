"""Predictive maintenance: the framework-free domain code behind `maintenance_flask`.

- `features`: physics features of a milling-machine reading (power, temperature
  difference, tool strain, the documented failure rules as indicators) and the
  windowed engine features of the remaining-useful-life model.
- `models`: the two fitted artifacts (`FailureRiskModel`, `RulModel`).
- `compiled`: the failure model's trees as flat arrays for serving a few readings fast (same probabilities).
- `training`: the `mlapps train maintenance` recipe (real files when available, simulators otherwise).
- `prediction` / `explanations`: scoring with physics near-miss messages and top contributing features.
- `schemas`: the reading / engine-cycle schema (pydantic v2, input and output models).
- `store`: machines, readings and alerts in SQLAlchemy (ingestion, alerting, fleet status).
- `charts` / `model_card`: CSP-safe SVG charts and what the model card shows.
- `fleet_sim` + `simulate`: simulated machines and the `mlapps simulate maintenance` streaming client.
"""
