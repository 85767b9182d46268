"""Web application (issue 7): FastAPI dashboard with login, roles, drill-down, uploads and audit.

`yunying.web.app.create_app(settings)` builds the app; `yunying serve` runs it. Facts are read from the DuckDB
warehouse (one connection per process, one cursor per request); users, sessions, targets and the audit log live in
the application database (SQLAlchemy: SQLite by default, PostgreSQL by URL).
"""
