"""Template rendering shared by the HTML pages: language, message catalogue, navigation, CSRF token."""

from __future__ import annotations

import json
from importlib import resources

from fastapi import Request
from fastapi.templating import Jinja2Templates

from yunying.reports import fmt
from yunying.web import labels
from yunying.web.i18n import LANGS, pick, translator

_templates: Jinja2Templates | None = None

NAV = [("overview", "/overview", "nav_overview"), ("dept", "/dept", "nav_dept"),
       ("indicators", "/engine", "nav_engine"), ("drg", "/drg", "nav_drg"),
       ("cost", "/cost", "nav_cost"), ("qc", "/qc", "nav_qc"), ("export", "/reports", "nav_reports"), ("import", "/import", "nav_import"),
       ("admin", "/admin", "nav_admin")]


def templates() -> Jinja2Templates:
    global _templates
    if _templates is None:
        _templates = Jinja2Templates(directory=str(resources.files("yunying.web").joinpath("templates")))
        _templates.env.filters["tojson_attr"] = lambda v: json.dumps(v, ensure_ascii=False, default=str)
        # the one number rule set (yunying.reports.fmt, docs/web.md §Labels and numbers): {{ v|num('元') }}
        _templates.env.filters["num"] = fmt.display
        _templates.env.filters["when"] = fmt.when
        _templates.env.filters["chart"] = _chart_rows
    return _templates


def _chart_rows(rows: list[dict], decimals: int | None = None, key: str = "value") -> list[dict]:
    """A chart's series with its values at the displayed precision (the catalogue's decimals), so a tooltip shows
    41.38, not 41.37931034482759; the script draws what it gets and formats nothing."""
    if decimals is None:
        return rows
    return [{**r, key: round(float(r[key]), decimals) if isinstance(r.get(key), (int, float)) else r.get(key)}
            for r in rows]


def _step_label(step: str, lang: str) -> str:
    from yunying.drg.explain import step_label      # the DRG package loads only when a trace is shown
    return step_label(step, lang)


def lang_of(request: Request) -> str:
    q = request.query_params.get("lang")
    if q in LANGS:
        return q
    c = request.cookies.get("lang")
    if c in LANGS:
        return c
    return request.app.state.ctx.settings.default_lang


def lang_url(request: Request, lang: str) -> str:
    params = dict(request.query_params)
    params["lang"] = lang
    from urllib.parse import urlencode
    return f"{request.url.path}?{urlencode(params)}"


def render(request: Request, name: str, context: dict, status_code: int = 200):
    lang = lang_of(request)
    t = translator(lang)
    user = getattr(request.state, "user", None)
    scope = getattr(request.state, "scope", None)
    nav = []
    if scope is not None:
        for module, href, key in NAV:
            if module in scope.modules or (module == "admin" and user is not None and user.role == "admin"):
                if module == "dept" and scope.is_dept_head:
                    href = f"/dept/{scope.dept}"
                nav.append({"href": href, "label": t(key), "module": module})
    ctx = {"request": request, "t": t, "lang": lang, "pick": lambda zh, en: pick(lang, zh, en),
           "label": lambda name, table=None: labels.label(name, lang, table),
           "value": lambda name, v, table=None: labels.value(name, v, lang, table),
           "code": lambda domain, v: labels.domain_label(domain, v, lang),
           "decode": lambda domain, code: labels.decode(domain, code, lang),
           "part": lambda text: labels.part(text, lang),
           "kind_label": lambda kind: labels.kind_label(kind, lang),
           "step_label": lambda step: _step_label(step, lang),
           "user": user, "scope": scope, "csrf": getattr(request.state, "csrf", ""), "nav": nav,
           "other_lang": "en" if lang == "zh" else "zh", "lang_url": lang_url(request, "en" if lang == "zh" else "zh"),
           **context}
    resp = templates().TemplateResponse(request, name, ctx, status_code=status_code)
    if request.query_params.get("lang") in LANGS:
        resp.set_cookie("lang", lang, samesite="lax", path="/")
    return resp
