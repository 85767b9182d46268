"""Upload checks: what a file must pass before it is stored for import (docs/security.md "Uploads and limits").

Order, cheapest first, so a bad upload is refused before anything is written to the uploads folder:
file name and type → content matches the name (a .csv that is really a zip/xlsx, PDF, image or binary is named
as such) → CSV header (first chunk only: columns limit, the kind's key columns) → copy to the uploads folder while
counting bytes and lines (size, row and cell limits stop the stream at once) → for .xlsx, the archive's declared
sizes and entry count (zipfile directory, nothing decompressed) and a streamed row/cell count of the sheets that
stops at the limit → for .parquet, the footer's row and column counts. Every refusal is a bilingual WebError 400/413
with a stable code; the caller audit-logs it (`upload_refused`).
"""

from __future__ import annotations

import csv
import re
import zipfile
from pathlib import Path
from typing import BinaryIO
from xml.parsers import expat

from yunying.web.config import WebSettings
from yunying.web.errors import WebError

SAMPLE = 1 << 20                    # the first chunk: magic bytes and the CSV header line
CHUNK = 1 << 20
# file suffix -> format the importer reads it as (yunying.ingest.readers.open_source)
FORMATS = {".csv": "csv", ".txt": "csv", ".tsv": "csv", ".xlsx": "xlsx", ".xlsm": "xlsx", ".parquet": "parquet"}
# leading bytes -> (zh, en) of what a file really is
MAGIC = [(b"PK\x03\x04", "ZIP 压缩包或 Excel (.xlsx) 文件", "a ZIP archive or an Excel .xlsx file"),
         (b"\xd0\xcf\x11\xe0", "旧版 Excel (.xls) 或 Word 文件", "a legacy Excel .xls or Word file"),
         (b"%PDF", "PDF 文件", "a PDF file"), (b"PAR1", "Parquet 文件", "a Parquet file"),
         (b"\x89PNG", "PNG 图片", "a PNG image"), (b"\xff\xd8\xff", "JPEG 图片", "a JPEG image"),
         (b"GIF8", "GIF 图片", "a GIF image"), (b"\x1f\x8b", "gzip 压缩文件", "a gzip file"),
         (b"Rar!", "RAR 压缩包", "a RAR archive"), (b"7z\xbc\xaf", "7z 压缩包", "a 7z archive")]
_BAD_NAME = re.compile(r"[\x00-\x1f\x7f/\\:*?\"<>|]")
_SAFE_NAME = re.compile(r"[^\w.\-\u4e00-\u9fff]+")
MAX_NAME = 200


class UploadRefused(WebError):
    """A refused upload: a WebError that also names the file and the limit it broke (for the audit row)."""

    def __init__(self, status: int, code: str, zh: str, en: str, *, file: str, **detail):
        super().__init__(status, code, f"文件 {file}：{zh}", f"file {file}: {en}")
        self.file, self.detail = file, detail


def check_name(raw: str) -> tuple[str, str]:
    """(name safe to store, format). A browser sends a bare file name; a path, `.`/`..`, control or reserved
    characters, an over-long name or an unreadable type are refused, never silently rewritten."""
    name = raw or ""
    shown = _SAFE_NAME.sub("_", name)[:80] or "?"
    if (not name.strip() or name.strip(". ") == "" or _BAD_NAME.search(name) or len(name) > MAX_NAME
            or ".." in name):
        raise UploadRefused(400, "WEB-UPLOAD-NAME",
                            f"文件名无效（不能为空、不能含路径、“..”、控制字符或 \\ / : * ? \" < > |，最长 {MAX_NAME} 字符），"
                            "请重命名后重新上传",
                            f"invalid file name (empty, a path, '..', control or reserved characters, or longer than "
                            f"{MAX_NAME}); rename it and upload again", file=shown)
    suffix = Path(name).suffix.lower()
    if suffix == ".xls":
        raise UploadRefused(400, "WEB-UPLOAD-TYPE", "不支持旧版 .xls 格式，请在 Excel 中另存为 .xlsx 或 CSV",
                            "legacy .xls is not supported; save it as .xlsx or CSV", file=shown)
    if suffix not in FORMATS:
        raise UploadRefused(400, "WEB-UPLOAD-TYPE",
                            f"不支持的文件类型“{suffix or '无扩展名'}”，可上传 {'、'.join(FORMATS)}",
                            f"unsupported file type '{suffix or 'none'}'; upload one of {', '.join(FORMATS)}",
                            file=shown)
    return _SAFE_NAME.sub("_", name), FORMATS[suffix]


def _what_is(head: bytes) -> tuple[str, str] | None:
    for magic, zh, en in MAGIC:
        if head.startswith(magic):
            return zh, en
    if b"\x00" in head[:8192] and not head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "二进制文件（非文本）", "a binary (non-text) file"
    return None


def check_content(name: str, fmt: str, head: bytes) -> None:
    """The first bytes must be what the name says: a CSV is text, an .xlsx a zip, a .parquet starts with PAR1."""
    if not head:
        return                          # empty: the importer reports IMP-EMPTY with its own message
    real = _what_is(head)
    if fmt == "csv" and real is not None:
        hint = "，请把扩展名改为 .xlsx 后上传" if head.startswith(b"PK\x03\x04") else "，请导出为 CSV 后上传"
        hint_en = "; rename it to .xlsx" if head.startswith(b"PK\x03\x04") else "; export it as CSV"
        raise UploadRefused(400, "WEB-UPLOAD-NOT-CSV", f"文件名是 CSV，内容却是{real[0]}{hint}",
                            f"named as CSV but it is {real[1]}{hint_en}", file=name)
    if fmt == "xlsx" and not head.startswith(b"PK\x03\x04"):
        what = real or ("文本文件", "a text file")
        raise UploadRefused(400, "WEB-UPLOAD-NOT-XLSX", f"文件名是 Excel (.xlsx)，内容却是{what[0]}",
                            f"named as .xlsx but it is {what[1]}", file=name)
    if fmt == "parquet" and not head.startswith(b"PAR1"):
        what = real or ("文本文件", "a text file")
        raise UploadRefused(400, "WEB-UPLOAD-NOT-PARQUET", f"文件名是 Parquet，内容却是{what[0]}",
                            f"named as .parquet but it is {what[1]}", file=name)


def csv_header(head: bytes, name: str, settings: WebSettings) -> list[str]:
    """The header fields of a CSV from its first chunk (same encoding and separator detection as the importer)."""
    from yunying.ingest.readers import detect_encoding, sniff_separator

    if b"\n" not in head and len(head) >= SAMPLE:
        raise UploadRefused(400, "WEB-UPLOAD-COLUMNS", f"表头行超过 {SAMPLE // 1024} KB，不是有效的数据表头",
                            f"the header line is longer than {SAMPLE // 1024} KB", file=name)
    encoding, _ = detect_encoding(head)
    line = head.split(b"\n", 1)[0].decode(encoding, errors="replace").rstrip("\r")
    sep = sniff_separator(line)
    headers = next(csv.reader([line], delimiter=sep), [])
    if len(headers) > settings.upload_max_columns:
        raise UploadRefused(400, "WEB-UPLOAD-COLUMNS",
                            f"表头有 {len(headers):,} 列，超过上限 {settings.upload_max_columns:,} 列",
                            f"{len(headers):,} columns, more than the limit of {settings.upload_max_columns:,}",
                            file=name, limit=settings.upload_max_columns, found=len(headers))
    return headers


def check_key_columns(kind: str, headers: list[str], hospital: str | None, name: str) -> None:
    """The importer's own header rule (profile choice and key columns) on the header alone, before storing."""
    from yunying.ingest import profiles as prof
    from yunying.ingest.engine import Importer
    from yunying.ingest.errors import ImportFailed

    importer = Importer(None, kind, hospital=hospital)
    binding = prof.choose(kind, headers, importer.profiles, None)
    try:
        importer._check_columns(binding, Path(name))
    except ImportFailed as exc:
        raise UploadRefused(400, "WEB-UPLOAD-HEADER", exc.zh, exc.en, file=name, import_code=exc.code) from None


def _too_big(name: str, settings: WebSettings) -> UploadRefused:
    return UploadRefused(413, "WEB-UPLOAD-SIZE", f"超过单个文件大小上限 {settings.upload_max_mb} MB，请拆分后上传",
                         f"larger than the limit of {settings.upload_max_mb} MB per file; split it",
                         file=name, limit_mb=settings.upload_max_mb)


def _too_many_rows(name: str, settings: WebSettings, found: str) -> UploadRefused:
    return UploadRefused(400, "WEB-UPLOAD-ROWS",
                         f"数据行超过上限 {settings.upload_max_rows:,} 行（已读到 {found}），请按月份拆分后上传",
                         f"more data rows than the limit of {settings.upload_max_rows:,} (read {found}); split it "
                         "by month", file=name, limit=settings.upload_max_rows)


def _too_many_cells(name: str, settings: WebSettings) -> UploadRefused:
    return UploadRefused(400, "WEB-UPLOAD-CELLS",
                         f"单元格数（行 × 列）超过上限 {settings.upload_max_cells:,}，请拆分后上传",
                         f"more cells (rows × columns) than the limit of {settings.upload_max_cells:,}; split it",
                         file=name, limit=settings.upload_max_cells)


def store(src: BinaryIO, dest: Path, name: str, fmt: str, kind: str, hospital: str | None,
          settings: WebSettings) -> Path:
    """Check the upload `src` and copy it to `dest`; on any refusal nothing stays at `dest`."""
    head = src.read(SAMPLE)
    check_content(name, fmt, head)
    columns = 0
    if fmt == "csv" and head:
        headers = csv_header(head, name, settings)
        columns = len(headers)
        check_key_columns(kind, headers, hospital, name)
    max_bytes = settings.upload_max_mb << 20
    max_lines = settings.upload_max_rows + 1            # + the header line
    if columns:
        max_lines = min(max_lines, settings.upload_max_cells // columns + 1)
    size = lines = 0
    try:
        with dest.open("wb") as out:
            chunk = head
            while chunk:
                size += len(chunk)
                if size > max_bytes:
                    raise _too_big(name, settings)
                if fmt == "csv":
                    lines += chunk.count(b"\n")
                    if lines > max_lines:       # a last line without newline is counted by no one: ≤ 1 row slack
                        raise (_too_many_rows(name, settings, f"{lines - 1:,}+")
                               if lines > settings.upload_max_rows + 1 else _too_many_cells(name, settings))
                out.write(chunk)
                chunk = src.read(CHUNK)
        if fmt == "xlsx":
            check_xlsx(dest, name, settings)
        elif fmt == "parquet":
            check_parquet(dest, name, settings)
    except BaseException:
        dest.unlink(missing_ok=True)
        raise
    return dest


def check_xlsx(path: Path, name: str, settings: WebSettings) -> None:
    """Expansion limits of an .xlsx before any parser opens it: the archive's declared uncompressed sizes (the
    zip directory; zipfile never inflates a part past its declared size) and entry count, then a streamed count
    of the sheets' rows and cells that stops at the row and cell limits."""
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError):
        raise UploadRefused(400, "WEB-UPLOAD-NOT-XLSX", "不是有效的 Excel (.xlsx) 文件（压缩包已损坏）",
                            "not a valid .xlsx (broken archive)", file=name) from None
    with zf:
        infos = zf.infolist()
        if len(infos) > settings.upload_xlsx_max_entries:
            raise UploadRefused(400, "WEB-UPLOAD-XLSX-EXPANSION",
                                f"Excel 压缩包含 {len(infos):,} 个部件，超过上限 {settings.upload_xlsx_max_entries:,}",
                                f"the .xlsx holds {len(infos):,} parts, more than {settings.upload_xlsx_max_entries:,}",
                                file=name, entries=len(infos))
        expanded = sum(i.file_size for i in infos)
        packed = max(path.stat().st_size, 1)
        if (expanded > settings.upload_xlsx_max_expanded_mb << 20
                or expanded > settings.upload_xlsx_max_ratio * packed):
            raise UploadRefused(400, "WEB-UPLOAD-XLSX-EXPANSION",
                                f"Excel 文件 {packed / 2**20:.1f} MB 解压后为 {expanded / 2**20:.0f} MB"
                                f"（上限 {settings.upload_xlsx_max_expanded_mb} MB、压缩比 {settings.upload_xlsx_max_ratio} 倍），"
                                "请另存为 CSV 后上传",
                                f"the .xlsx of {packed / 2**20:.1f} MB expands to {expanded / 2**20:.0f} MB (limits "
                                f"{settings.upload_xlsx_max_expanded_mb} MB, ratio {settings.upload_xlsx_max_ratio}); "
                                "save it as CSV", file=name, expanded=expanded, packed=packed)
        counts = {"row": 0, "c": 0}
        limits = {"row": settings.upload_max_rows + 1, "c": settings.upload_max_cells}     # + the header row

        def start(tag, _attrs):
            local = tag.rsplit(":", 1)[-1]
            if local in counts:
                counts[local] += 1
                if counts[local] > limits[local]:
                    raise (_too_many_rows(name, settings, f"{counts['row'] - 1:,}+") if local == "row"
                           else _too_many_cells(name, settings))

        def no_dtd(*_args):
            raise UploadRefused(400, "WEB-UPLOAD-NOT-XLSX", "Excel 工作表含 DTD 声明，不是 Excel 生成的文件",
                                "a worksheet declares a DTD; not a file written by Excel", file=name)

        for info in infos:
            if not (info.filename.startswith("xl/worksheets/") and info.filename.endswith(".xml")):
                continue
            parser = expat.ParserCreate()              # a streaming count: no tree is built
            parser.StartElementHandler = start
            parser.StartDoctypeDeclHandler = no_dtd
            with zf.open(info) as fh:
                try:
                    parser.ParseFile(fh)
                except expat.ExpatError as exc:
                    raise UploadRefused(400, "WEB-UPLOAD-NOT-XLSX", f"Excel 工作表已损坏：{exc}",
                                        f"a worksheet is broken: {exc}", file=name) from None


def check_parquet(path: Path, name: str, settings: WebSettings) -> None:
    """Row and cell limits from the Parquet footer (nothing decoded)."""
    import pyarrow.parquet as pq

    try:
        meta = pq.ParquetFile(path).metadata
    except Exception:  # noqa: BLE001 — pyarrow raises several types for a broken file
        return                          # the importer reports IMP-PARQUET with its own message
    if meta.num_rows > settings.upload_max_rows:
        raise _too_many_rows(name, settings, f"{meta.num_rows:,}")
    if meta.num_columns > settings.upload_max_columns:
        raise UploadRefused(400, "WEB-UPLOAD-COLUMNS",
                            f"有 {meta.num_columns:,} 列，超过上限 {settings.upload_max_columns:,} 列",
                            f"{meta.num_columns:,} columns, more than {settings.upload_max_columns:,}", file=name)
    if meta.num_rows * meta.num_columns > settings.upload_max_cells:
        raise _too_many_cells(name, settings)
