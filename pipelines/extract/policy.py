"""Structured fields of Chinese policy documents, where the page states them.

``发文字号`` (document number, e.g. 国办发〔2021〕12号), ``发文机关``, ``成文日期``, ``发布日期``, ``有效性``,
plus ``索引号`` and ``主题分类`` when present. Labels may be spaced out (``发 文 机 关``) and values may sit in the
next table cell (the next line of the flattened page).
"""

from __future__ import annotations

import re
from typing import Any

from pipelines.extract.dates import find_dates
from pipelines.zhre import zh

_BRACKETS = r"[〔\[［(（【]"
_CLOSE = r"[〕\]］)）】]"
DOC_NUMBER = re.compile(
    r"([\u4e00-\u9fff]{1,12}" + _BRACKETS + r"\s*(?:19|20)\d{2}\s*" + _CLOSE + r"\s*第?\s*\d{1,4}\s*号)"
)


def _label(word: str) -> str:
    return r"\s*".join(zh(ch) for ch in word)


def _field(label_words: tuple[str, ...], value: str) -> re.Pattern[str]:
    labels = "|".join(_label(w) for w in label_words)
    return re.compile(r"(?:^|[\s|｜]|】|\])(?:" + labels + r")\s*[:：]?\s*\n?\s*" + value, re.M)


_VALUE = r"([^\n|｜]{2,60}?)(?=\s{2,}|\s*\n|\s*[|｜]|$)"
_FIELDS: dict[str, re.Pattern[str]] = {
    "发文字号": _field(("发文字号", "文号", "发文号"), _VALUE),
    "发文机关": _field(("发文机关", "发文单位", "发布机构", "发布机关", "制发机关", "发文部门"), _VALUE),
    "成文日期": _field(("成文日期", "成文时间", "印发日期"), _VALUE),
    "发布日期": _field(("发布日期", "发文日期", "公布日期", "发布时间"), _VALUE),
    "有效性": _field(("有效性", "时效性", "效力状态", "是否有效", "效力级别"), _VALUE),
    "索引号": _field(("索引号",), _VALUE),
    "主题分类": _field(("主题分类", "主题词"), _VALUE),
}
_VALIDITY = re.compile(zh(r"(现行有效|有效|已失效|失效|已废止|废止|部分失效|已修订|尚未生效)"))


def policy_fields(text: str) -> dict[str, Any]:
    """The policy fields a page states; {} for an ordinary article."""
    out: dict[str, Any] = {}
    head = text[:20000]
    for name, pattern in _FIELDS.items():
        m = pattern.search(head)
        if not m:
            continue
        value = m.group(1).strip(" ：:\u3000")
        if not value:
            continue
        if name in ("成文日期", "发布日期"):
            hits = find_dates(value)
            if not hits:
                continue
            out[name] = hits[0].iso[:10]
        elif name == "有效性":
            v = _VALIDITY.search(value)
            if not v:
                continue
            out[name] = v.group(1)
        elif name == "发文字号":
            num = DOC_NUMBER.search(value)
            if num:
                out[name] = re.sub(r"\s+", "", num.group(1))
            elif re.search(r"\d", value) and len(value) <= 30:
                out[name] = value
        else:
            out[name] = value
    if "发文字号" not in out:
        num = DOC_NUMBER.search(text[:3000])
        if num and (
            out or re.search(zh(r"(?:通知|意见|办法|规定|决定|方案|规划|细则|批复|公告)"), text[:3000])
        ):
            out["发文字号"] = re.sub(r"\s+", "", num.group(1))
    if set(out) <= {"发布日期"}:  # a lone 发布时间 is an ordinary byline, not a policy page
        return {}
    return out
