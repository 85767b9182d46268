"""Readers: CSV (UTF-8, UTF-8-BOM, GB18030/GBK, detected), Excel (.xlsx), Parquet -> a DuckDB staging table.

Every staging table has one VARCHAR column per source header plus `_row_no` (line number in the source file,
header = line 1). Structural CSV problems (wrong field count, invalid encoding) become row rejects, not crashes.
"""

from __future__ import annotations

import codecs
import hashlib
import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import duckdb
import numpy as np
import pyarrow as pa

from yunying.ingest.errors import ImportFailed

Progress = Callable[[str, int, int], None]
CHUNK = 8 << 20
SAMPLE = 1 << 20


@dataclass
class Staged:
    table: str                                 # staging table name in the connection
    headers: list[str]
    rows: int
    encoding: str | None
    structural_rejects: list[dict] = field(default_factory=list)   # {row_no, code, extra, raw}
    notes: list[str] = field(default_factory=list)


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()


def detect_encoding(sample: bytes) -> tuple[str, bool]:
    """(encoding, mixed). UTF-8 BOM -> utf-8-sig; all non-ASCII lines valid UTF-8 -> utf-8; none -> gb18030;
    some of each -> utf-8 with mixed=True (the non-UTF-8 lines are rejected one by one, with their line numbers)."""
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig", False
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16", False
    lines = sample.split(b"\n")
    if len(sample) >= SAMPLE and len(lines) > 1:
        lines = lines[:-1]                     # last line may be cut mid-character
    good = bad = 0
    for line in lines:
        if max(line, default=0) < 0x80:
            continue
        try:
            line.decode("utf-8")
            good += 1
        except UnicodeDecodeError:
            bad += 1
    if bad == 0:
        return "utf-8", False
    if good == 0:
        return "gb18030", False
    return "utf-8", True


def _transcode(path: Path, encoding: str, progress: Progress | None) -> Path:
    """Stream-decode to a UTF-8 temp file (DuckDB reads only UTF-8). Raises ImportFailed with the line number."""
    total = path.stat().st_size
    fd, tmp = tempfile.mkstemp(suffix=".csv", prefix="yunying-")
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    done = lines = 0
    try:
        with open(path, "rb") as src, os.fdopen(fd, "wb") as dst:
            while chunk := src.read(CHUNK):
                try:
                    text = decoder.decode(chunk)
                except UnicodeDecodeError as exc:
                    line = lines + chunk[: exc.start].count(b"\n") + 1
                    raise ImportFailed(
                        "IMP-ENCODING",
                        f"第 {line} 行无法按 {encoding} 解码（文件编码混杂或损坏），请将整个文件另存为 UTF-8 或 GB18030 后重新导入",
                        f"line {line} cannot be decoded as {encoding}; re-save the whole file in one encoding",
                        file=path.name,
                    ) from None
                lines += chunk.count(b"\n")
                dst.write(text.encode("utf-8"))
                done += len(chunk)
                if progress:
                    progress("transcode", done, total)
            dst.write(decoder.decode(b"", final=True).encode("utf-8"))
    except BaseException:
        os.unlink(tmp)
        raise
    return Path(tmp)


def _read_csv(con: duckdb.DuckDBPyConnection, path: Path, table: str, encoding: str | None,
              progress: Progress | None) -> Staged:
    size = path.stat().st_size
    if size == 0:
        raise ImportFailed("IMP-EMPTY", "文件为空（0 字节），请确认导出是否成功", "file is empty (0 bytes)", file=path.name)
    with open(path, "rb") as fh:
        sample = fh.read(SAMPLE)
    mixed = False
    if encoding is None:
        encoding, mixed = detect_encoding(sample)
    notes = []
    if mixed:
        notes.append("文件中混有非 UTF-8 编码的行，这些行已隔离 / mixed encodings: non-UTF-8 rows quarantined")
    source, tmp = path, None
    if encoding.lower().replace("_", "-") not in ("utf-8", "utf8"):
        tmp = _transcode(path, "utf-8-sig" if encoding == "utf-8-sig" else encoding, progress)
        source = tmp
    try:
        sep = sniff_separator(sample.decode(encoding, errors="replace"))
        con.execute("drop table if exists reject_errors; drop table if exists reject_scans")
        # all_varchar: typing and validation are ours (row-level, explained); strict field counts go to rejects.
        con.execute(
            f"""create or replace temp table {table} as
                select *, row_number() over () + 1 as _row_no from read_csv(?, all_varchar=true, header=true, auto_detect=true, sep=?, quote='"',
                                       escape='"', store_rejects=true, max_line_size=10000000,
                                       parallel=true)""",
            [str(source), sep],
        )
        headers = [r[0] for r in con.execute(f"describe {table}").fetchall()][:-1]
        rejects = con.execute(
            "select line, error_type::varchar, csv_line, error_message from reject_errors order by line"
        ).fetchall()
    except duckdb.Error as exc:
        raise ImportFailed("IMP-CSV", f"无法读取 CSV：{exc}", f"cannot read CSV: {exc}", file=path.name) from None
    finally:
        if tmp:
            os.unlink(tmp)
    _check_header_only(con, table, path, headers)
    structural = []
    seen = set()
    for line, etype, csv_line, msg in rejects:
        if line in seen:
            continue
        seen.add(line)
        code = {"MISSING COLUMNS": "IMP-COLS", "TOO MANY COLUMNS": "IMP-COLS",
                "INVALID ENCODING": "IMP-ENCODING"}.get(etype, "IMP-ROW")
        counts = re.findall(r"\d+", msg or "")
        if code == "IMP-ENCODING":
            extra = "UTF-8"
        elif code == "IMP-COLS" and len(counts) >= 2:
            extra = f"应为 {counts[0]} 列，实际 {counts[1]} 列 / expected {counts[0]}, found {counts[1]}"
        else:
            extra = (msg or etype).replace("\n", " ")[:200]
        structural.append({"row_no": int(line), "code": code, "extra": extra, "raw": csv_line})
    # Line numbers of loaded rows: _row_no is the data-row ordinal + 1 (file order), correct while no line was
    # rejected; otherwise shift it past the rejected lines. One record per physical line is assumed (a quoted field
    # spanning lines shifts later numbers — documented in docs/import.md).
    if structural:
        raw_rows = con.execute(f"select count(*) from {table}").fetchall()[0][0]
        lines = np.arange(2, raw_rows + len(structural) + 2, dtype=np.int64)
        lines = np.setdiff1d(lines, np.array([r["row_no"] for r in structural], dtype=np.int64))[:raw_rows]
        con.register("_line_nos", pa.table({"k": np.arange(2, raw_rows + 2, dtype=np.int64), "line": lines}))
        con.execute(f"update {table} set _row_no = l.line from _line_nos l where {table}._row_no = l.k")
        con.unregister("_line_nos")
    rows = con.execute(f"select count(*) from {table}").fetchall()[0][0]
    return Staged(table, headers, rows, encoding, structural, notes)


def sniff_separator(text: str) -> str:
    """The separator of the header line: the most frequent of , TAB | ; (comma on ties)."""
    header = text.split("\n", 1)[0]
    counts = {sep: header.count(sep) for sep in (",", "\t", "|", ";")}
    best = max(counts, key=lambda k: (counts[k], k == ","))
    return best if counts[best] else ","


def _check_header_only(con, table, path, headers):
    if not headers or headers == ["column0"]:
        raise ImportFailed("IMP-NOHEADER", "文件没有表头行", "file has no header row", file=path.name)


def _read_xlsx(con: duckdb.DuckDBPyConnection, path: Path, table: str) -> Staged:
    import openpyxl

    try:
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for a broken file
        raise ImportFailed("IMP-XLSX", f"无法打开 Excel 文件：{exc}", f"cannot open Excel file: {exc}",
                           file=path.name) from None
    ws = wb.worksheets[0]
    rows = ws.iter_rows(values_only=True)
    header_row = next(rows, None)
    if header_row is None:
        raise ImportFailed("IMP-EMPTY", "工作表为空", "worksheet is empty", file=path.name)
    headers = [str(h).strip() if h is not None else f"column{i}" for i, h in enumerate(header_row)]
    cols: list[list] = [[] for _ in headers]
    row_nos = []
    for n, row in enumerate(rows, start=2):
        if row is None or all(v is None or v == "" for v in row):
            continue
        for i in range(len(headers)):
            cols[i].append(_cell_text(row[i]) if i < len(row) else None)
        row_nos.append(n)
    wb.close()
    arrow = pa.table({**{h: pa.array(c, pa.string()) for h, c in zip(headers, cols)},
                      "_row_no": pa.array(row_nos, pa.int64())})
    con.register("_xlsx_arrow", arrow)
    con.execute(f"create or replace temp table {table} as select * from _xlsx_arrow")
    con.unregister("_xlsx_arrow")
    return Staged(table, headers, len(row_nos), None)


def _cell_text(v) -> str | None:
    import datetime as dt

    if v is None:
        return None
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    if isinstance(v, dt.datetime):
        return v.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(v, dt.date):
        return v.strftime("%Y-%m-%d")
    return str(v)


def _read_parquet(con: duckdb.DuckDBPyConnection, path: Path, table: str) -> Staged:
    try:
        cols = [r[0] for r in con.execute("describe select * from read_parquet(?)", [str(path)]).fetchall()]
        casts = ", ".join(f'cast("{c}" as varchar) as "{c}"' for c in cols)
        con.execute(f"create or replace temp table {table} as "
                    f"select {casts}, row_number() over () + 1 as _row_no from read_parquet(?)", [str(path)])
    except duckdb.Error as exc:
        raise ImportFailed("IMP-PARQUET", f"无法读取 Parquet 文件：{exc}", f"cannot read Parquet: {exc}",
                           file=path.name) from None
    rows = con.execute(f"select count(*) from {table}").fetchall()[0][0]
    return Staged(table, cols, rows, None)


def stage_file(con: duckdb.DuckDBPyConnection, path: Path, table: str = "_stg", *,
               encoding: str | None = None, progress: Progress | None = None) -> Staged:
    path = Path(path)
    if not path.is_file():
        raise ImportFailed("IMP-NOFILE", "文件不存在或不是普通文件", "file not found", file=str(path))
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        return _read_xlsx(con, path, table)
    if suffix == ".xls":
        raise ImportFailed("IMP-XLS", "不支持旧版 .xls 格式，请在 Excel 中另存为 .xlsx 或 CSV",
                           "legacy .xls is not supported; save as .xlsx or CSV", file=path.name)
    if suffix == ".parquet":
        return _read_parquet(con, path, table)
    return _read_csv(con, path, table, encoding, progress)
