"""Settings per environment: `base` (shared), `development`, `production`, `test`."""
