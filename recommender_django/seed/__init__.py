"""The article's Django endpoint, kept working: `POST /api/predict/` -> `{"prediction": 0|1, "probability": p}`."""
