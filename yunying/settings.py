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
    drg_reference_min_low_risk_groups: int = Field(
        default=10, description="低风险组参照偏少的阈值：参照中低风险组少于此数时，低风险组死亡率标注“参照偏少” / "
                                "a risk reference with fewer low-risk DRGs than this is flagged thin")


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
