"""One typed settings object per process, read from the environment (and `.env`).

Development defaults work with no configuration.  Production mode refuses to
start with a default secret or with debug on (`Settings.check_production`).
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEVELOPMENT_SECRET = "dev-insecure-secret-change-me"

AppName = Literal["credit", "maintenance", "recommender"]


class InsecureSettingsError(RuntimeError):
    """Raised when production mode is asked for with unsafe settings."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="MLAPPS_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    mode: Literal["development", "production", "test"] = "development"
    debug: bool = False
    secret_key: str = DEVELOPMENT_SECRET

    data_cache_dir: Path = Path("datasets/cache")
    data_mirror_dir: Path | None = Field(
        default=None, validation_alias=AliasChoices("MLAPPS_DATA_MIRROR", "MLAPPS_DATA_MIRROR_DIR")
    )
    allow_download: bool = True
    download_timeout_seconds: float = 60.0

    model_store_dir: Path = Path("models")
    var_dir: Path = Path("var")

    database_url: str | None = Field(
        default=None, validation_alias=AliasChoices("MLAPPS_DATABASE_URL", "DATABASE_URL")
    )
    credit_database_url: str | None = None
    maintenance_database_url: str | None = None
    recommender_database_url: str | None = None

    max_request_bytes: int = 5 * 1024 * 1024
    max_csv_rows: int = 50_000
    max_page_size: int = 200

    def database_url_for(self, app: AppName) -> str:
        """The database an app uses: its own override, else DATABASE_URL, else its SQLite file."""
        own = getattr(self, f"{app}_database_url")
        if own:
            return own
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.var_dir / f'{app}.sqlite3').resolve()}"

    def check_production(self) -> None:
        """Refuse insecure settings in production mode; a no-op in other modes."""
        if self.mode != "production":
            return
        problems = []
        if self.debug:
            problems.append("MLAPPS_DEBUG must be off in production")
        if self.secret_key == DEVELOPMENT_SECRET or len(self.secret_key) < 32:
            problems.append("MLAPPS_SECRET_KEY must be set to a random value of at least 32 characters")
        if problems:
            raise InsecureSettingsError("; ".join(problems))


@functools.cache
def get_settings() -> Settings:
    """The process-wide settings (read once; tests call `get_settings.cache_clear()`)."""
    return Settings()
