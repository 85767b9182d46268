"""Render docs/data-model.md from the catalogue, so the document cannot drift from the schema.

    python -m yunying.ingest.doc > docs/data-model.md      (tests/model/test_model.py checks it is current)
"""

from __future__ import annotations

from yunying.ingest.profiles import load_profiles
from yunying.model.catalogue import load_model

INTRO = """# Data model 数据模型

Generated from `yunying/model/tables.yaml` and `yunying/model/domains.yaml` by `python -m yunying.ingest.doc`;
do not edit by hand (a test compares this file with the catalogue).

The warehouse is one DuckDB file. Every fact table carries `hospital_id`, so one database can hold a 医联体 or a
region. Keys are enforced by the importer (replace-by-key in one transaction), not by indexes. Diagnoses and
procedures are child tables of the discharge abstract (住院病案首页), in their original order: diagnosis `seq` 0 is
the principal diagnosis (主要诊断), procedure `seq` 1 the principal procedure (主要手术及操作). The national field
code column gives the western upload code (卫统4-1 / 国考) first and the TCM-interface alias after `/`; import
profiles (`yunying/ingest/profiles/*.yaml`) map these and Chinese titles to the canonical names.

Requirement: **key** — a row without it is rejected (quarantined); **required** — stored, noted as a warning and
left to record-quality control (首页质控) when empty. PII marks columns masked in the UI and exports by default.
"""


def render() -> str:
    model = load_model()
    out = [INTRO]
    out.append("## Tables 表\n")
    out.append("| table | 中文 | import kind | key |\n|---|---|---|---|")
    for t in model.tables.values():
        kind = f"`{t.kind}`" + (f" (child of `{t.parent}`)" if t.parent else "")
        out.append(f"| `{t.name}` | {t.zh} | {kind} | {', '.join(t.key)} |")
    out.append("")
    for t in model.tables.values():
        out.append(f"## `{t.name}` — {t.zh}\n")
        out.append("| column | 中文名 | national code | type | requirement | value domain | notes |")
        out.append("|---|---|---|---|---|---|---|")
        for c in t.columns:
            notes = []
            if c.pii:
                notes.append(f"PII ({c.pii})")
            if c.fee_class:
                notes.append(f"fee class {c.fee_class}")
            if c.subset_of:
                notes.append(f"其中 ⊂ `{c.subset_of}`")
            if c.closed:
                notes.append("closed domain: other values rejected (IMP-CODE)")
            if c.default is not None:
                notes.append(f"default `{c.default}` when absent or empty")
            out.append(f"| `{c.name}` | {c.zh} | {c.code or ''} | {c.type} | {c.req or ''} | "
                       f"{c.domain or ''} | {'; '.join(notes)} |")
        out.append("")
    out.append("## Import bookkeeping 导入日志与隔离区\n")
    out.append("- `import_log`: one row per file import: file name, SHA-256, size, encoding, mapping profile, times, "
               "status (ok/failed), rows read, inserted, updated, exact duplicates, rejected, warnings, reject file, the "
               "hospitals of the file's rows (`hospitals`) and who started it (`imported_by`, web uploads).")
    out.append("- `import_reject` (quarantine 隔离区): one row per rejected row and reason: line number, record key, "
               "field, value, stable code, Chinese and English reason, and the whole original row as JSON.")
    out.append("- `import_warning`: stored rows with values outside a domain or empty required fields.")
    out.append("- `schema_migrations`: applied migration files (`yunying/warehouse/migrations/NNNN_*.sql`, `NNNN_*.py`).\n")
    out.append("Hard-reject row checks (besides keys and unparseable values):\n")
    for chk in model.row_checks:
        out.append(f"- `{chk.code}` on `{chk.table}`: `{chk.when}`")
    out.append("\n## Value domains 值域\n")
    for name, dom in model.domains.items():
        codes = "; ".join(f"`{k}` {v}" for k, v in dom.codes.items())
        out.append(f"- **{name}**: {codes}")
        if dom.aliases:
            out.append("  - also accepted: " + ", ".join(f"{a}→{c}" for a, c in dom.aliases.items()))
    out.append("\n## Header-mapping profiles 表头映射\n")
    for p in load_profiles().values():
        out.append(f"- `{p.name}` ({p.kind}): {p.label_zh} — {len(p.columns)} columns, "
                   f"repeating groups: {', '.join(p.repeats) or 'none'} — `{p.path}`")
    out.append("\nUsers add a profile for their HIS export as a YAML file in the same form "
               "(`--profile FILE`, or a folder set by `YUNYING_PROFILES_DIR`); see docs/import.md.")
    return "\n".join(out) + "\n"


if __name__ == "__main__":  # pragma: no cover
    print(render(), end="")
