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
    # login throttling (docs/security.md): a backoff per (user, client address) and per client address, never a
    # lock of the account itself — failures from one address do not slow the same user signing in from another
    throttle_user_failures: int = 5         # failures of one user from one address before the backoff starts
    throttle_ip_failures: int = 20          # failures from one address (any user names) before its backoff starts
    throttle_window_minutes: int = 15       # failures older than this are forgotten
    throttle_base_seconds: int = 30         # first wait; doubles with every further failure …
    throttle_max_seconds: int = 900         # … up to this
    trusted_proxies: list[str] = Field(default_factory=list)   # addresses/CIDRs whose X-Forwarded-For is believed
    secure_cookies: bool = False            # set True behind HTTPS
    upload_dir: Path | None = None          # default: <warehouse folder>/uploads (files deleted after import)
    # upload limits (docs/security.md "Uploads and limits"); checked before a file is stored for import
    upload_max_mb: int = 500                # per file
    upload_max_files: int = 20              # per upload
    upload_max_rows: int = 2_000_000        # data rows per file (CSV lines after the header, xlsx rows)
    upload_max_columns: int = 2_000         # header fields per file
    upload_max_cells: int = 400_000_000     # rows × columns per file
    upload_xlsx_max_expanded_mb: int = 1_000   # declared uncompressed size of all parts of an .xlsx
    upload_xlsx_max_ratio: int = 100        # uncompressed / compressed size of an .xlsx (a zip bomb is ≫ 100)
    upload_xlsx_max_entries: int = 1_000    # parts in the .xlsx archive
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
