"""Routers: auth (login/logout), api (JSON under /api), admin (/api/admin), pages (HTML)."""
