"""Web settings: one place for every knob of the web application."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field


def default_app_db_url(db: Path | str) -> str:
    """The application DB beside the warehouse: demo.duckdb -> sqlite:///…/demo.app.sqlite."""
    p = Path(db).resolve()
    return f"sqlite:///{p.with_name(p.stem + '.app.sqlite')}"


class WebSettings(BaseModel):
    db: Path = Field(description="warehouse DuckDB file")
    app_db_url: str | None = Field(default=None, description="SQLAlchemy URL of the application DB")
    session_idle_minutes: int = 30          # a session unused this long expires
    session_absolute_hours: int = 10        # and every session ends after this long (a working day)
    throttle_user_failures: int = 5         # failed logins per user within the window before lock-out
    throttle_ip_failures: int = 20          # failed logins per client IP within the window
    throttle_window_minutes: int = 15
    secure_cookies: bool = False            # set True behind HTTPS
    upload_dir: Path | None = None          # default: <warehouse folder>/uploads
    pii_roles: list[str] = Field(default_factory=lambda: ["admin", "office:records"])
    default_lang: str = "zh"
    memory_limit: str | None = None
    threads: int | None = None
    warm_cache: bool = True                 # compute the key indicators of every year at start and after each job
    qc_after_import: bool = True            # a discharge upload re-runs record QC of the hospitals it touched
    drg_after_import: bool = True           # … and regroups with every registered DRG scheme that has results

    @property
    def app_db(self) -> str:
        return self.app_db_url or default_app_db_url(self.db)

    @property
    def uploads(self) -> Path:
        return self.upload_dir or Path(self.db).resolve().parent / "uploads"
