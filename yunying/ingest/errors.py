"""Import errors and messages: stable code, Chinese first, English second, with where and how to fix."""

from __future__ import annotations


class ImportFailed(Exception):
    """A file-level problem: nothing from this file is stored. Carries a bilingual, actionable message."""

    def __init__(self, code: str, zh: str, en: str, *, file: str | None = None):
        self.code, self.zh, self.en, self.file = code, zh, en, file
        where = f"{file}: " if file else ""
        super().__init__(f"{code} {where}{zh} / {en}")


# Row-level reasons (code -> (zh template, en template)); {field}, {value}, {extra} are filled per row.
ROW_REASONS: dict[str, tuple[str, str]] = {
    "IMP-KEY": ("关键字段【{field}】为空，无法确定是哪一份病历，请在源数据中补全后重新导入",
                "key field {field} is empty; fill it in the source and re-import"),
    "IMP-DATE": ("字段【{field}】值 \"{value}\" 不是有效日期时间（应为 yyyy-mm-dd 或 yyyy-mm-dd HH:MM:SS），请修正后重新导入",
                 "field {field}: \"{value}\" is not a valid date/time (expected yyyy-mm-dd [HH:MM:SS])"),
    "IMP-NUMBER": ("字段【{field}】值 \"{value}\" 不是有效数字，请修正后重新导入",
                   "field {field}: \"{value}\" is not a valid number"),
    "IMP-INTEGER": ("字段【{field}】值 \"{value}\" 不是整数，请修正后重新导入",
                    "field {field}: \"{value}\" is not an integer"),
    "IMP-DATE-ORDER": ("出院时间 {value} 早于入院时间 {extra}，日期不可能，请核对后重新导入",
                       "discharge time {value} is before admission time {extra}; check both dates"),
    "IMP-DUP": ("同一文件中关键字段重复且内容不同（另见第 {extra} 行），无法判断哪一行正确，均未导入；请删除错误的一行后重新导入",
                "duplicate key with different content in the same file (see also row {extra}); neither row loaded"),
    "IMP-COLS": ("本行字段数与表头不符（{extra}），可能是被截断的行或未加引号的逗号，请修正后重新导入",
                 "row has the wrong number of fields ({extra}): truncated line or unquoted comma"),
    "IMP-ENCODING": ("本行不是 {extra} 编码（文件编码混杂），请将整个文件另存为同一种编码（UTF-8 或 GB18030）后重新导入",
                     "row is not valid {extra} (mixed encodings in one file); re-save the whole file in one encoding"),
    "IMP-LINE-SIZE": ("本行过长（{extra}），通常是未闭合的引号或粘贴进来的大段文本，未导入；请检查并缩短该行后重新导入",
                      "line too long ({extra}): usually an unclosed quote or pasted bulk text; not loaded, check "
                      "and shorten the line"),
    "IMP-CODE": ("字段【{field}】值 \"{value}\" 不是有效代码（{extra}），未导入；请改用这些代码或其中文名称后重新导入",
                 "field {field}: \"{value}\" is not a valid code ({extra}); not loaded, use one of these codes or "
                 "its Chinese name and re-import"),
    "IMP-NEGATIVE": ("字段【{field}】值 {value} 为负数，金额与数量不能为负，未导入；请核对源数据（冲销请在源系统中轧差）后重新导入",
                     "field {field}: {value} is negative; amounts and quantities cannot be negative, not loaded — "
                     "check the source (net reversals there) and re-import"),
    "IMP-VALUE-MISSING": ("字段【{field}】为空，没有数值无法核算成本，未导入；请填写数值（没有发生请填 0）后重新导入",
                          "field {field} is empty; a cost figure needs a value, not loaded — fill it in (0 when "
                          "nothing occurred) and re-import"),
    "IMP-VALID-ORDER": ("失效日期 {value} 早于生效日期 {extra}，有效期不可能，未导入；请核对两个日期后重新导入",
                        "valid_to {value} is before valid_from {extra}; check both dates and re-import"),
    "IMP-MONTH": ("字段【{field}】值 {value} 不是月初日期，月份应写成该月 1 日（如 2022-03-01），未导入；请修正后重新导入",
                  "field {field}: {value} is not the first day of a month (write 2022-03-01 for March 2022); not "
                  "loaded, fix it and re-import"),
    "IMP-ROW": ("本行无法解析（{extra}），请检查引号与分隔符", "row could not be parsed ({extra}); check quotes and separators"),
}

WARN_REASONS: dict[str, tuple[str, str]] = {
    "IMP-DOMAIN": ("字段【{field}】值 \"{value}\" 不在值域 {extra} 中，已导入，待首页质控处理",
                   "field {field}: \"{value}\" is outside value domain {extra}; stored, left to record QC"),
    "IMP-REQUIRED": ("必填字段【{field}】为空，已导入，待首页质控处理",
                     "required field {field} is empty; stored, left to record QC"),
    "IMP-DUP-SAME": ("与第 {extra} 行完全相同的重复行，只导入一次", "exact duplicate of row {extra}; loaded once"),
}
