"""The zh/en message catalogue of the web UI (messages.yaml). Chinese first; English by ?lang=en or cookie."""

from __future__ import annotations

from functools import cache
from importlib import resources

import yaml

LANGS = ("zh", "en")


@cache
def catalogue() -> dict[str, dict[str, str]]:
    text = resources.files("yunying.web").joinpath("messages.yaml").read_text(encoding="utf-8")
    return yaml.safe_load(text)


def translator(lang: str):
    lang = lang if lang in LANGS else "zh"
    cat = catalogue()

    def t(key: str) -> str:
        entry = cat.get(key)
        if entry is None:
            return key
        return entry.get(lang) or entry.get("zh") or key
    return t


def pick(lang: str, zh: str | None, en: str | None) -> str:
    """Choose between a record's *_zh and *_en text."""
    return (en or zh or "") if lang == "en" else (zh or en or "")
