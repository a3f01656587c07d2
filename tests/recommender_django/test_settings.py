"""Production settings refuse unsafe configuration; `check --deploy` passes when configured."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys

import pytest

SECRET = secrets.token_urlsafe(48)


def django_run(argv: list[str], **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("MLAPPS_", "DJANGO_")) and k != "DATABASE_URL"}
    return subprocess.run([sys.executable, "-m", "django", *argv, "--settings=recommender_django.settings.production"],
                          env={**clean, **env}, capture_output=True, text=True, timeout=120, check=False)


@pytest.mark.parametrize(("env", "complaint"), [
    ({}, "MLAPPS_SECRET_KEY"),
    ({"MLAPPS_SECRET_KEY": SECRET, "MLAPPS_DEBUG": "1"}, "MLAPPS_DEBUG"),
])
def test_production_refuses_a_default_secret_or_debug(tmp_path, env: dict[str, str], complaint: str) -> None:  # noqa: ANN001
    result = django_run(["check"], MLAPPS_VAR_DIR=str(tmp_path), **env)
    assert result.returncode != 0 and complaint in result.stderr


def test_check_deploy_passes_with_production_settings(tmp_path) -> None:  # noqa: ANN001
    result = django_run(["check", "--deploy", "--fail-level", "WARNING"], MLAPPS_SECRET_KEY=SECRET,
                        MLAPPS_VAR_DIR=str(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout
