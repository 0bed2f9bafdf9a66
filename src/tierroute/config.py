"""All configuration in one place: pydantic-settings models, environment overrides (TIERROUTE_*).

The classifier side needs only paths; the gateway's TOML configuration lives here too
(see ``GatewayConfig``) so that one module validates every setting and names a bad key.
"""

from __future__ import annotations

from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Process-wide settings; every field can be overridden by ``TIERROUTE_<FIELD>``."""

    model_config = SettingsConfigDict(env_prefix="TIERROUTE_", extra="ignore")

    models_dir: Path = Path("models")
    data_dir: Path = Path("data/raw")


def get_settings() -> Settings:
    """Settings read from the environment now (not cached: tests change the environment)."""
    return Settings()
