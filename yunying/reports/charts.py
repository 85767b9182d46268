"""Charts as PNG (matplotlib, Agg) with a CJK font found on this machine.

Before drawing, the chosen font's character map is checked (fontTools) against every character the chart will
print, so a chart never shows missing-glyph boxes: when no installed font covers the text, rendering stops with a
clear message (CjkFontError) — the report writers then leave the chart out and add a visible warning.
Install fonts with scripts/setup-reports.sh (fonts-noto-cjk).
"""

from __future__ import annotations

import io
from functools import lru_cache
from pathlib import Path

from yunying.reports.model import Chart

PREFERRED = ("Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", "Source Han Sans CN", "WenQuanYi Zen Hei",
             "WenQuanYi Micro Hei", "Droid Sans Fallback", "SimHei", "Microsoft YaHei", "AR PL UMing CN",
             "Noto Serif CJK SC")
PROBE = "运营质量月报年度工作出院人次平均住院日药占比较同期下降增长"


class CjkFontError(RuntimeError):
    pass


@lru_cache(maxsize=64)
def _cmap(path: str) -> frozenset[int]:
    from fontTools.ttLib import TTCollection, TTFont

    try:
        if path.lower().endswith((".ttc", ".otc")):
            fonts = TTCollection(path, lazy=True).fonts[:1]
        else:
            fonts = [TTFont(path, lazy=True, fontNumber=0)]
        out: set[int] = set()
        for f in fonts:
            out |= set(f.getBestCmap() or {})
        return frozenset(out)
    except Exception:  # noqa: BLE001 — unreadable font file
        return frozenset()


@lru_cache(maxsize=1)
def find_cjk_font() -> tuple[str, str] | None:
    """(family name, file) of an installed font that has glyphs for common report Chinese, preferred order."""
    from matplotlib import font_manager

    entries = font_manager.fontManager.ttflist
    by_name: dict[str, list[str]] = {}
    for e in entries:
        by_name.setdefault(e.name, []).append(e.fname)
    names = [n for n in PREFERRED if n in by_name]
    names += sorted(n for n in by_name if n not in names and any(k in n for k in ("CJK", "Hei", "Song", "Kai",
                                                                                   "Ming", "Han", "WenQuanYi")))
    probe = {ord(c) for c in PROBE}
    for n in names:
        for f in sorted(by_name[n], key=lambda p: ("Bold" in p, p)):
            if probe <= _cmap(f):
                return n, f
    return _scan_unlisted(probe, {e.fname for e in entries})


def _scan_unlisted(probe: set[int], known: set[str]) -> tuple[str, str] | None:
    """A font installed after matplotlib built its cache is not in ttflist: scan the system font folders for it
    (CJK-looking file names first) and register the first one that covers the probe."""
    from matplotlib import font_manager

    files = [f for f in font_manager.findSystemFonts() if f not in known]
    hint = ("cjk", "han", "hei", "song", "kai", "ming", "wqy", "droid", "uming", "ukai")
    files.sort(key=lambda f: (not any(k in Path(f).name.lower() for k in hint), "bold" in f.lower(), f))
    for f in files:
        if probe <= _cmap(f):
            font_manager.fontManager.addfont(f)
            return font_manager.FontProperties(fname=f).get_name(), f
    return None


def missing_glyphs(text: str, font_file: str) -> str:
    cmap = _cmap(font_file)
    return "".join(sorted({c for c in text if not c.isspace() and ord(c) not in cmap}))


def chart_text(chart: Chart) -> str:
    return chart.title + chart.unit + "".join(chart.categories) + "".join(chart.series) + "0123456789.%-"


def render(chart: Chart, *, dpi: int = 150) -> bytes:
    """PNG bytes; raises CjkFontError when no installed font covers the chart's text."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib import font_manager

    found = find_cjk_font()
    if found is None:
        raise CjkFontError("未找到中文字体，图表无法正确显示中文；请运行 scripts/setup-reports.sh 安装 fonts-noto-cjk / "
                           "no CJK font installed: run scripts/setup-reports.sh (fonts-noto-cjk)")
    family, path = found
    miss = missing_glyphs(chart_text(chart), path)
    if miss:
        raise CjkFontError(f"字体 {family} 缺少字符「{miss}」，图表不绘制 / font {family} lacks glyphs {miss!r}")
    prop = font_manager.FontProperties(fname=path)
    fig, ax = plt.subplots(figsize=(7.2, 3.6), dpi=dpi)
    try:
        cats = list(chart.categories)
        names = list(chart.series)
        if chart.kind == "line":
            for n in names:
                ax.plot(cats, [float("nan") if x is None else x for x in chart.series[n]], marker="o", label=n)
        else:
            k = max(len(names), 1)
            width = 0.8 / k
            for j, n in enumerate(names):
                xs = [i + (j - (k - 1) / 2) * width for i in range(len(cats))]
                ys = [0 if x is None else x for x in chart.series[n]]
                bars = (ax.barh if chart.kind == "barh" else ax.bar)(xs, ys, width, label=n)
                for b, y in zip(bars, chart.series[n]):
                    if y is None:
                        continue
                    label = f"{y:,.0f}" if abs(y) >= 100 or float(y).is_integer() else f"{y:.2f}"
                    if chart.kind == "barh":
                        ax.annotate(label, (b.get_width(), b.get_y() + b.get_height() / 2), fontsize=7,
                                    xytext=(2, 0), textcoords="offset points", va="center", fontproperties=prop)
                    else:
                        ax.annotate(label, (b.get_x() + b.get_width() / 2, b.get_height()), fontsize=7,
                                    xytext=(0, 2), textcoords="offset points", ha="center", fontproperties=prop)
            ticks = list(range(len(cats)))
            if chart.kind == "barh":
                ax.set_yticks(ticks, cats, fontproperties=prop)
            else:
                ax.set_xticks(ticks, cats, fontproperties=prop)
        ax.set_title(chart.title, fontproperties=prop, fontsize=11)
        if chart.unit:
            (ax.set_xlabel if chart.kind == "barh" else ax.set_ylabel)(chart.unit, fontproperties=prop)
        if len(names) > 1:
            ax.legend(prop=prop, fontsize=8)
        for s in ("top", "right"):
            ax.spines[s].set_visible(False)
        fig.tight_layout()
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=dpi)
        return buf.getvalue()
    finally:
        plt.close(fig)


def font_path() -> Path | None:
    f = find_cjk_font()
    return Path(f[1]) if f else None
