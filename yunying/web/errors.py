"""Bilingual errors (Chinese first) with stable codes; rendered as JSON for /api and as a page for HTML."""

from __future__ import annotations


class WebError(Exception):
    def __init__(self, status: int, code: str, zh: str, en: str, *, headers: dict | None = None,
                 audit_code: str | None = None):
        """headers: extra response headers (Retry-After). audit_code: the request is written to the audit log as
        `denied` with this code although the answer says something else (a 404 that hides a 403)."""
        super().__init__(f"{code} {zh} / {en}")
        self.status, self.code, self.zh, self.en = status, code, zh, en
        self.headers, self.audit_code = headers, audit_code

    def as_dict(self) -> dict:
        return {"error": {"code": self.code, "zh": self.zh, "en": self.en},
                "detail": f"{self.code} {self.zh} / {self.en}"}


def forbidden(code: str, zh: str, en: str) -> WebError:
    return WebError(403, code, zh, en)


def not_found(zh: str, en: str) -> WebError:
    return WebError(404, "WEB-NOT-FOUND", zh, en)


def bad_request(code: str, zh: str, en: str) -> WebError:
    return WebError(400, code, zh, en)
