"""Credit-risk scoring, framework-free: the model, its compiled scoring path, the decision log, monitoring.

- `features`: the input signature (inferred from any credit table), derived characteristics.
- `profile`: labels, ranges and risk directions of the embedded `credit-data`.
- `binning`, `models`: the WoE scorecard (champion) and gradient boosting (challenger) pipelines.
- `training`: `mlapps train credit` (repeated CV, grades on held-out data, registry).
- `scorecard`: the compiled path (one applicant in microseconds; vectorised batches), points,
  grades, decisions, reason codes.
- `decisions`: the SQLAlchemy decision log.  `monitoring`: population stability (PSI).
- `service`: what the web apps call; `charts`: server-rendered SVG.
"""
