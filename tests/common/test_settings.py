import pytest

from common.settings import DEVELOPMENT_SECRET, InsecureSettingsError, Settings


def test_development_defaults_need_no_configuration(monkeypatch):
    monkeypatch.delenv("MLAPPS_MODE", raising=False)
    settings = Settings(_env_file=None)
    assert settings.mode == "development"
    settings.check_production()  # a no-op outside production
    assert settings.database_url_for("credit").startswith("sqlite:///")
    assert settings.database_url_for("credit") != settings.database_url_for("maintenance")


def test_database_url_applies_to_every_app_unless_overridden(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
    monkeypatch.setenv("MLAPPS_MAINTENANCE_DATABASE_URL", "sqlite:///elsewhere.sqlite3")
    settings = Settings(_env_file=None)
    assert settings.database_url_for("credit") == "postgresql://postgres@127.0.0.1:5432/test"
    assert settings.database_url_for("maintenance") == "sqlite:///elsewhere.sqlite3"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({}, "MLAPPS_SECRET_KEY"),
        ({"MLAPPS_SECRET_KEY": "short"}, "MLAPPS_SECRET_KEY"),
        ({"MLAPPS_SECRET_KEY": "x" * 40, "MLAPPS_DEBUG": "1"}, "MLAPPS_DEBUG"),
    ],
)
def test_production_refuses_insecure_settings(monkeypatch, env, message):
    monkeypatch.setenv("MLAPPS_MODE", "production")
    monkeypatch.delenv("MLAPPS_SECRET_KEY", raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(InsecureSettingsError, match=message):
        Settings(_env_file=None).check_production()


def test_production_with_a_real_secret_starts(monkeypatch):
    monkeypatch.setenv("MLAPPS_MODE", "production")
    monkeypatch.setenv("MLAPPS_SECRET_KEY", "k" * 48)
    settings = Settings(_env_file=None)
    settings.check_production()
    assert settings.secret_key != DEVELOPMENT_SECRET
