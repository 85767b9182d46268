"""Readers: CSV (UTF-8, UTF-8-BOM, GB18030/GBK, detected), Excel (.xlsx), Parquet -> a re-readable source.

A `Source` is a SQL FROM clause yielding one VARCHAR column per source header plus `_row_no` (line number in the
source file, header = line 1). The engine reads it once to type and validate, and again only for the rows it
rejects (to quarantine them exactly as they were). Structural CSV problems (wrong field count, invalid encoding)
become row rejects with their line numbers, not crashes.
"""

from __future__ import annotations

import codecs
import hashlib
import os
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import duckdb
import numpy as np
import pyarrow as pa

from yunying.ingest.errors import ImportFailed
from yunying.ingest.scratch import scratch_prefix

Progress = Callable[[str, int, int], None]
CHUNK = 8 << 20
SAMPLE = 1 << 20


@dataclass
class Source:
    con: duckdb.DuckDBPyConnection
    name: str                                   # file name, for messages
    headers: list[str]
    relation: str                               # SQL FROM item with the headers' columns (no _row_no)
    encoding: str | None = None
    numbered: bool = False                      # relation already has _row_no (Excel)
    notes: list[str] = field(default_factory=list)
    structural_rejects: list[dict] = field(default_factory=list)   # {row_no, code, extra, raw}
    tmp: Path | None = None
    registered: str | None = None
    is_csv: bool = False
    raw_headers: list[str] | None = None        # the header row as written (DuckDB renames duplicates)
    path: Path | None = None                    # the file as given (original bytes of encoding rejects)

    def first_read_sql(self) -> str:
        """Select item numbering rows on the first read (before rejected lines are known)."""
        return "_row_no" if self.numbered else "row_number() over () + 1 as _row_no"

    def numbered_sql(self) -> str:
        """The relation with `_row_no` = data-row ordinal + 1, shifted past rejected lines (see `_rowmap`)."""
        if self.numbered:
            return f"(select * from {self.relation})"
        base = f"(select *, row_number() over () + 1 as _row_no from {self.relation})"
        if not self.structural_rejects:
            return base
        return (f"(select r.* exclude (_row_no), m.line as _row_no from {base} r "
                f"join _rowmap m on m.k = r._row_no)")

    def after_first_read(self) -> None:
        """Collect CSV structural rejects from the scan just made; build the line map if any."""
        if not self.is_csv:
            return
        rows = self.con.execute(
            "select line, error_type::varchar, csv_line, error_message from reject_errors order by line").fetchall()
        seen = set()
        for line, etype, csv_line, msg in rows:
            if line in seen:
                continue
            seen.add(line)
            code = {"MISSING COLUMNS": "IMP-COLS", "TOO MANY COLUMNS": "IMP-COLS",
                    "INVALID ENCODING": "IMP-ENCODING"}.get(etype, "IMP-ROW")
            counts = re.findall(r"\d+", msg or "")
            if etype == "UNQUOTED VALUE":
                # an opening quote without its closing quote swallows the lines after it into one field: rows
                # would vanish silently, so the whole file is refused (nothing stored) with the line number
                raise ImportFailed(
                    "IMP-QUOTE",
                    f"第 {line} 行的引号不成对（以 \" 开头的字段没有结束引号，或结束引号后还有字符），其后的行会被并入同一字段、"
                    f"无法可靠分行，整个文件未导入。请在第 {line} 行补全或删除引号（字段内的引号应写成两个 \"\"）后重新导入",
                    f"line {line}: unbalanced quote (a field opened with \" is not closed, or text follows the closing "
                    f"quote); the lines after it would merge into one field, so nothing from this file was imported. "
                    f"Fix the quote on line {line} (a quote inside a field is written \"\") and import again",
                    file=self.name)
            if etype == "LINE SIZE OVER MAXIMUM":
                code = "IMP-LINE-SIZE"
                size = int(counts[-1]) if counts else 0
                extra = f"{size / 2**20:.1f} MB > {MAX_LINE / 2**20:.0f} MB"
                csv_line = (csv_line or "")[:1000] + "…"
            elif code == "IMP-ENCODING":
                extra = "UTF-8"
            elif code == "IMP-COLS" and len(counts) >= 2:
                extra = f"应为 {counts[0]} 列，实际 {counts[1]} 列 / expected {counts[0]}, found {counts[1]}"
            else:
                extra = (msg or etype).replace("\n", " ")[:200]
            self.structural_rejects.append({"row_no": int(line), "code": code, "extra": extra, "raw": csv_line})
        self._original_bytes()
        if self.structural_rejects:
            bad = np.array([r["row_no"] for r in self.structural_rejects], dtype=np.int64)
            n = self.con.execute("select count(*) from _typed").fetchall()[0][0]
            lines = np.setdiff1d(np.arange(2, n + len(bad) + 2, dtype=np.int64), bad)[:n]
            self.con.register("_rowmap_arrow", pa.table({"k": np.arange(2, n + 2, dtype=np.int64), "line": lines}))
            self.con.execute("create or replace temp table _rowmap as select * from _rowmap_arrow")
            self.con.unregister("_rowmap_arrow")
            self.con.execute("update _typed set _row_no = m.line from _rowmap m where _typed._row_no = m.k")

    def _original_bytes(self) -> None:
        """Encoding rejects of a mixed file: DuckDB shows the undecodable bytes as '?'. Keep the line as it is in
        the file instead, decoded with the legacy encoding that reads it (GB18030, else Big5), so the quarantine and
        the reject file stay readable; undecodable bytes are kept as \\xNN."""
        want = {r["row_no"]: r for r in self.structural_rejects if r["code"] == "IMP-ENCODING"}
        if not want or self.path is None or self.tmp is not None:
            return
        last = max(want)
        with open(self.path, "rb") as fh:
            for n, raw in enumerate(fh, start=1):
                if n in want:
                    raw = raw.rstrip(b"\r\n")
                    try:
                        raw.decode("utf-8")
                        continue                # not this physical line (a quoted field spans lines): keep as is
                    except UnicodeDecodeError:
                        pass
                    for enc in ("gb18030", "cp950"):
                        try:
                            text = raw.decode(enc)
                        except UnicodeDecodeError:
                            continue
                        break
                    else:
                        text = raw.decode("utf-8", errors="backslashreplace")
                    want[n]["raw"] = text
                if n >= last:
                    break

    def close(self) -> None:
        if self.tmp and self.tmp.exists():
            self.tmp.unlink()
        if self.registered:
            try:
                self.con.unregister(self.registered)
            except duckdb.Error:
                pass
        self.con.execute("drop table if exists _rowmap")


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()


def detect_encoding(sample: bytes, name: str | None = None) -> tuple[str, bool]:
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
        return legacy_encoding(sample, name), False
    return "utf-8", True


def _share_common(text: str, encoding: str, leads: tuple[int, int]) -> tuple[float, int]:
    """(share of non-ASCII characters that are punctuation or common hanzi of `encoding`, number of them)."""
    n = common = 0
    for ch in text:
        if ord(ch) < 0x80:
            continue
        if n == 20_000:                       # plenty for a verdict; keeps detection fast on a 1 MB sample
            break
        n += 1
        try:
            b = ch.encode(encoding)
        except UnicodeEncodeError:
            continue
        if len(b) == 2 and (0xA1 <= b[0] <= 0xA3 or leads[0] <= b[0] <= leads[1]):
            common += 1
    return (common / n if n else 1.0), n


def legacy_encoding(sample: bytes, name: str | None = None) -> str:
    """The legacy encoding of a sample that is not UTF-8: gb18030, or cp950 (Big5) when that reads it far more
    plausibly. GB18030 decodes nearly any byte pairs, so Big5 text read as GB18030 gives no error but mojibake:
    kana, Greek, box drawing, private-use and rare hanzi instead of the common characters of Chinese text. Common =
    GB2312 level-1 hanzi (lead bytes B0–D7) resp. Big5 frequently used hanzi (A4–C6), plus punctuation (A1–A3).
    Raises ImportFailed (IMP-ENCODING-GUESS) when neither reading is plausible; `--encoding` overrides."""
    if len(sample) >= SAMPLE:
        sample = sample[: sample.rfind(b"\n") + 1] or sample
    gb_text = sample.decode("gb18030", errors="replace")
    gb, n = _share_common(gb_text, "gb2312", (0xB0, 0xD7))
    if n < 20 or gb >= 0.6:
        return "gb18030"
    try:
        big5, _ = _share_common(sample.decode("cp950"), "cp950", (0xA4, 0xC6))
    except UnicodeDecodeError:
        big5 = 0.0
    if big5 >= 0.8:
        return "cp950"
    raise ImportFailed(
        "IMP-ENCODING-GUESS",
        f"无法确定文件编码：不是 UTF-8；按 GB18030 读出的文字大多是生僻字、假名或乱码（常用字仅占 {gb:.0%}），按 Big5 也读不通。"
        f"请将文件另存为 UTF-8 后重新导入，或用 --encoding 指定其编码",
        f"cannot tell the file's encoding: not UTF-8, and read as GB18030 it is mostly rare characters, kana or "
        f"mojibake (only {gb:.0%} common characters); Big5 does not fit either. Save it as UTF-8 or pass --encoding",
        file=name)


PARALLEL_MIN = 64 << 20
# In these encodings a newline byte (0x0A) never occurs inside a multi-byte character, so a file can be cut at
# newlines and the pieces decoded independently.
NEWLINE_SAFE = {"gb18030", "gbk", "gb2312", "cp936", "utf-8", "utf8", "big5", "cp950"}
MAX_LINE = 10_000_000                          # bytes; a longer line is rejected on its own (IMP-LINE-SIZE)


def _transcode_part(args: tuple) -> tuple[int, int | None, int]:
    """Decode bytes [start, end) of a file and write them as UTF-8. Returns (newlines, error_line, bytes_out)."""
    path, start, end, out, encoding, parent = args
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    lines = written = 0
    with open(path, "rb") as src, open(out, "wb") as dst:
        src.seek(start)
        left = end - start
        while left > 0:
            if parent is not None and os.getppid() != parent:    # the import was killed: stop, leave no piece
                dst.close()
                os.unlink(out)
                return lines, None, written
            chunk = src.read(min(CHUNK, left))
            if not chunk:
                break
            left -= len(chunk)
            try:
                data = decoder.decode(chunk, final=left <= 0).encode("utf-8")
            except UnicodeDecodeError as exc:
                return lines, lines + chunk[: exc.start].count(b"\n") + 1, written
            lines += chunk.count(b"\n")
            dst.write(data)
            written += len(data)
    return lines, None, written


def _split_points(path: Path, parts: int) -> list[int]:
    size = path.stat().st_size
    points = [0]
    with open(path, "rb") as fh:
        for i in range(1, parts):
            fh.seek(size * i // parts)
            fh.readline()                       # advance to the start of the next line
            points.append(max(fh.tell(), points[-1]))
    return points + [size]


def _transcode(path: Path, encoding: str, progress: Progress | None) -> Path:
    """Decode to a UTF-8 temp file (DuckDB reads only UTF-8), in parallel pieces for large files.
    Raises ImportFailed with the line number of the first undecodable byte."""
    size = path.stat().st_size
    norm = codecs.lookup(encoding).name
    workers = min(os.cpu_count() or 1, 4)
    parts = workers if size >= PARALLEL_MIN and norm in NEWLINE_SAFE and workers > 1 else 1
    fd, tmp = tempfile.mkstemp(suffix=".csv", prefix=scratch_prefix())    # swept if this process is killed
    os.close(fd)
    pieces = [f"{tmp}.{i}" for i in range(parts)]
    points = _split_points(path, parts)
    jobs = [(str(path), points[i], points[i + 1], pieces[i], encoding, os.getpid() if parts > 1 else None)
            for i in range(parts)]
    try:
        if progress:
            progress("transcode", 0, size)
        if parts == 1:
            results = [_transcode_part(jobs[0])]
        else:
            import multiprocessing as mp
            from concurrent.futures import ProcessPoolExecutor

            with ProcessPoolExecutor(parts, mp_context=mp.get_context("spawn")) as pool:
                results = list(pool.map(_transcode_part, jobs))
        lines_before = 0
        for newlines, error_line, _ in results:
            if error_line is not None:
                line = lines_before + error_line
                raise ImportFailed(
                    "IMP-ENCODING",
                    f"第 {line} 行无法按 {encoding} 解码（文件编码混杂或损坏），请将整个文件另存为 UTF-8 或 GB18030 后重新导入",
                    f"line {line} cannot be decoded as {encoding}; re-save the whole file in one encoding",
                    file=path.name)
            lines_before += newlines
        with open(tmp, "wb") as dst:
            for piece in pieces:
                with open(piece, "rb") as src:
                    shutil.copyfileobj(src, dst, CHUNK)
                os.unlink(piece)
        if progress:
            progress("transcode", size, size)
    except BaseException:
        for f in [tmp, *pieces]:
            if os.path.exists(f):
                os.unlink(f)
        raise
    return Path(tmp)


def _open_csv(con: duckdb.DuckDBPyConnection, path: Path, encoding: str | None,
              progress: Progress | None) -> Source:
    if path.stat().st_size == 0:
        raise ImportFailed("IMP-EMPTY", "文件为空（0 字节），请确认导出是否成功", "file is empty (0 bytes)", file=path.name)
    with open(path, "rb") as fh:
        sample = fh.read(SAMPLE)
    mixed = False
    if encoding is None:
        encoding, mixed = detect_encoding(sample, path.name)
    notes = []
    if encoding == "cp950":
        notes.append("文件不是 UTF-8，按 GB18030 读出为乱码，已识别为 Big5（繁体）编码 / detected Big5 (cp950): "
                     "read as GB18030 it would be mojibake")
    if mixed:
        notes.append("文件中混有非 UTF-8 编码的行，这些行已隔离 / mixed encodings: non-UTF-8 rows quarantined")
    try:
        sep = sniff_separator(sample.decode(encoding, errors="replace"))
    except LookupError:
        raise ImportFailed("IMP-ENCODING", f"未知编码 {encoding}", f"unknown encoding {encoding}", file=path.name) from None
    tmp = None
    if encoding.lower().replace("_", "-") not in ("utf-8", "utf8"):
        tmp = _transcode(path, encoding, progress)
    source = tmp or path
    raw_headers = _header_row(sample, encoding, sep)
    if raw_headers:
        check_headers(raw_headers, path.name)     # DuckDB would rename the second one (BAH_1) and read the first
    # all_varchar: typing and validation are ours (row-level, explained); bad field counts go to reject_errors.
    common = (f"sep='{_sql_str(sep)}', quote='\"', escape='\"', store_rejects=true, max_line_size={MAX_LINE}")
    relation = f"read_csv('{_sql_str(source)}', all_varchar=true, header=true, auto_detect=true, {common})"
    src = Source(con, path.name, [], relation, encoding, notes=notes, tmp=tmp, is_csv=True, raw_headers=raw_headers,
                 path=path)
    try:
        src.headers = [r[0] for r in con.execute(f"describe select * from {relation}").fetchall()]
    except duckdb.Error as exc:
        # DuckDB's dialect sniffer gives up on an unbalanced quote or a huge line near the top ("Error when
        # sniffing file"): read with our own header row instead, so such lines are found with their line numbers
        first = str(exc).strip().splitlines()[0][:300]
        if raw_headers and len(set(raw_headers)) == len(raw_headers) and all(raw_headers):
            cols = "{" + ", ".join(f"'{_sql_str(h)}': 'VARCHAR'" for h in raw_headers) + "}"
            src.relation = (f"read_csv('{_sql_str(source)}', header=true, auto_detect=false, columns={cols}, "
                            f"{common})")
            try:
                src.headers = [r[0] for r in con.execute(f"describe select * from {src.relation}").fetchall()]
                return src
            except duckdb.Error as exc2:
                first = str(exc2).strip().splitlines()[0][:300]
        src.close()
        raise ImportFailed("IMP-CSV", f"无法识别 CSV 格式（常见原因：引号未闭合、分隔符不一致、不是文本文件），"
                           f"请用 Excel 另存为 CSV 后重试。详情：{first}",
                           f"cannot parse the CSV (unclosed quote, mixed separators or not a text file): {first}",
                           file=path.name) from None
    if not src.headers or src.headers == ["column0"]:
        src.close()
        raise ImportFailed("IMP-NOHEADER", "文件没有表头行", "file has no header row", file=path.name)
    return src


def check_headers(headers: list[str], name: str) -> None:
    """Refuse a header row naming a column twice (compared as profiles compare them: trimmed, case-insensitive):
    which of the two columns holds the data cannot be known."""
    from yunying.ingest.profiles import norm

    seen: dict[str, list[int]] = {}
    for i, h in enumerate(headers, start=1):
        if norm(h):
            seen.setdefault(norm(h), []).append(i)
    dups = [(h, cols) for h, cols in seen.items() if len(cols) > 1]
    if not dups:
        return
    zh = "；".join(f"【{headers[cols[0] - 1]}】出现在第 {'、'.join(map(str, cols))} 列" for h, cols in dups[:5])
    en = "; ".join(f"{headers[cols[0] - 1]} in columns {', '.join(map(str, cols))}" for h, cols in dups[:5])
    raise ImportFailed("IMP-DUP-HEADER",
                       f"表头中有重复的列名：{zh}。无法确定应使用哪一列，整个文件未导入；请删除或改名重复的列后重新导入",
                       f"duplicate column headers: {en}. Which column holds the data cannot be known, so nothing "
                       f"from this file was imported; remove or rename the repeated column and import again",
                       file=name)


def _header_row(sample: bytes, encoding: str, sep: str) -> list[str] | None:
    """The first CSV record of the file as written (None if it cannot be parsed from the sample)."""
    import csv
    import io

    text = sample.decode(encoding, errors="replace").lstrip("\ufeff")
    try:
        row = next(csv.reader(io.StringIO(text, newline=""), delimiter=sep, quotechar='"'), None)
    except csv.Error:
        return None
    return [h.strip() for h in row] if row else None


def _sql_str(value) -> str:
    return str(value).replace("'", "''")


def sniff_separator(text: str) -> str:
    """The separator of the header line: the most frequent of , TAB | ; (comma on ties)."""
    header = text.split("\n", 1)[0]
    counts = {sep: header.count(sep) for sep in (",", "\t", "|", ";")}
    best = max(counts, key=lambda k: (counts[k], k == ","))
    return best if counts[best] else ","


def _open_xlsx(con: duckdb.DuckDBPyConnection, path: Path) -> Source:
    import openpyxl

    def broken(exc: BaseException) -> ImportFailed:
        detail = f"{type(exc).__name__}: {exc}"[:300]
        return ImportFailed("IMP-XLSX", f"无法读取 Excel 文件（文件不完整或已损坏，例如下载/复制被中断）：{detail}。"
                            f"请在 Excel 中打开并另存为 .xlsx 或 CSV 后重新导入",
                            f"cannot read the Excel file (truncated or damaged, e.g. an interrupted download or "
                            f"copy): {detail}. Open it in Excel and save it again as .xlsx or CSV",
                            file=path.name)

    try:
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for a broken file
        raise broken(exc) from None
    try:
        if not wb.worksheets:
            raise ImportFailed("IMP-XLSX", "Excel 文件中没有工作表，请确认导出是否成功",
                               "the Excel file has no worksheet; check the export", file=path.name)
        rows = wb.worksheets[0].iter_rows(values_only=True)
        header_row = next(rows, None)
        if header_row is None:
            raise ImportFailed("IMP-EMPTY", "工作表为空", "worksheet is empty", file=path.name)
        headers = [str(h).strip() if h is not None else f"column{i}" for i, h in enumerate(header_row)]
        check_headers(headers, path.name)           # a dict of columns would silently drop repeated ones
        cols: list[list] = [[] for _ in headers]
        row_nos = []
        for n, row in enumerate(rows, start=2):
            if row is None or all(v is None or v == "" for v in row):
                continue
            for i in range(len(headers)):
                cols[i].append(_cell_text(row[i]) if i < len(row) else None)
            row_nos.append(n)
    except ImportFailed:
        raise
    except Exception as exc:  # a truncated sheet XML (ParseError), a missing part (KeyError) …
        raise broken(exc) from None
    finally:
        wb.close()
    arrow = pa.table({**{h: pa.array(c, pa.string()) for h, c in zip(headers, cols)},
                      "_row_no": pa.array(row_nos, pa.int64())})
    con.register("_xlsx_arrow", arrow)
    return Source(con, path.name, headers, "_xlsx_arrow", None, numbered=True, registered="_xlsx_arrow",
                  raw_headers=headers)


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


def _open_parquet(con: duckdb.DuckDBPyConnection, path: Path) -> Source:
    rel = f"read_parquet('{_sql_str(path)}')"
    try:
        cols = [r[0] for r in con.execute(f"describe select * from {rel}").fetchall()]
    except duckdb.Error as exc:
        first = str(exc).strip().splitlines()[0][:300]
        raise ImportFailed("IMP-PARQUET", f"无法读取 Parquet 文件（文件损坏或不是 Parquet）：{first}",
                           f"cannot read Parquet: {first}", file=path.name) from None
    check_headers(cols, path.name)
    casts = ", ".join(f'cast("{c}" as varchar) as "{c}"' for c in cols)
    return Source(con, path.name, cols, f"(select {casts} from {rel})")


def open_source(con: duckdb.DuckDBPyConnection, path: Path, *, encoding: str | None = None,
                progress: Progress | None = None) -> Source:
    path = Path(path)
    if not path.is_file():
        raise ImportFailed("IMP-NOFILE", "文件不存在或不是普通文件", "file not found", file=str(path))
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        return _open_xlsx(con, path)
    if suffix == ".xls":
        raise ImportFailed("IMP-XLS", "不支持旧版 .xls 格式，请在 Excel 中另存为 .xlsx 或 CSV",
                           "legacy .xls is not supported; save as .xlsx or CSV", file=path.name)
    if suffix == ".parquet":
        return _open_parquet(con, path)
    return _open_csv(con, path, encoding, progress)
