"""One place for configuration: environment variables (YUNYING_*), an optional yunying.toml, CLI flags."""

from __future__ import annotations

import tomllib
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="YUNYING_", extra="ignore")

    db: Path = Field(default=Path("yunying.duckdb"), description="warehouse DuckDB file 数据仓库文件")
    hospital: str | None = Field(default=None, description="default hospital_id for imports without one")
    profiles_dir: Path | None = Field(default=None, description="extra header-mapping profiles (YAML)")
    locale: str = Field(default="zh", description="zh (default) or en")
    memory_limit: str = Field(default="4GB", description="DuckDB memory limit")
    threads: int | None = Field(default=None, description="DuckDB threads (default: all cores)")


def load_settings(config: Path | None = None, **overrides) -> Settings:
    """Settings from yunying.toml (explicit path, or ./yunying.toml), then env, then explicit overrides."""
    values: dict = {}
    path = config or Path("yunying.toml")
    if path.is_file():
        with path.open("rb") as fh:
            values.update(tomllib.load(fh).get("yunying", {}))
    settings = Settings()  # defaults + environment
    from_file = {k: v for k, v in values.items() if k not in settings.model_fields_set}
    clean = {k: v for k, v in overrides.items() if v is not None}
    return Settings(**{**settings.model_dump(exclude_unset=True), **from_file, **clean})
