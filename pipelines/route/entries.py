"""Fields of problem and project entries: the organisation, deadline, budget, contact, stage and key numbers."""

from __future__ import annotations

import re

_DATE = (
    r"(?:\d{4}\s*年\s*\d{1,2}\s*月\s*\d{1,2}\s*日|\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}\s*月\s*\d{1,2}\s*日)"
)
DEADLINE = re.compile(
    rf"(?:截止|截至|报名|申报|征集)(?:日期|时间)?[^。\n]{{0,12}}?({_DATE})|({_DATE})\s*(?:前|之前|截止)"
)
_MONEY = r"\d+(?:\.\d+)?\s*(?:万元|亿元|万|元|亿)"
BUDGET = re.compile(rf"(?:预算|经费|资金|投入|悬赏|奖金|榜额|支持金额|合作金额)[^。\n，,]{{0,12}}?({_MONEY})")
_ORG_FIELD = re.compile(
    r"(?:需求单位|需求方|需求企业|发榜单位|发布单位|征集单位|完成单位|成果单位|所属单位|研发单位|单位名称|申报单位|"
    r"专利权人|申请人|持有单位|依托单位|承担单位|企业名称)\s*[：:]\s*([^\s，,。；;\n]{2,40})"
)
_ORG_NAME = re.compile(
    r"[\u4e00-\u9fffA-Za-z（）()]{2,30}?(?:大学|学院|研究所|研究院|科学院|医院|有限责任公司|股份有限公司|有限公司|集团|"
    r"实验室|研究中心)"
)
CONTACT = re.compile(
    r"(?:联系人|联系方式|联系电话|电话|邮箱|E-?mail)\s*[：:]\s*([^\n。；;]{2,60})", re.IGNORECASE
)
STAGE = re.compile(
    r"技术成熟度\s*[：:为]?\s*\d+\s*级|TRL\s*\d|实验室阶段|小试阶段?|中试阶段?|小批量(?:生产|试产)?|批量生产|试生产|"
    r"样机阶段?|已量产|量产|产业化阶段|已投产|投入使用|商用|已转化|推广应用"
)
_NUMBER = re.compile(
    r"\d+(?:\.\d+)?\s*(?:%|％|倍|万元|亿元|亿|万|纳米|nm|GHz|MHz|TOPS|TFLOPS|瓦|千瓦|兆瓦|吨|公斤|千克|公里|米|项|件|"
    r"个百分点|小时|毫安时|瓦时|千瓦时|摄氏度|微米|毫米)",
    re.IGNORECASE,
)
_CLAUSE_END = "。；;\n，,！!？?"
KEY_NUMBER_CHARS = (
    36  # a key number's snippet is its clause, cut to about this many characters at word boundaries
)
KEY_NUMBERS = 5
NEED_SENTENCE = re.compile(r"[^。\n]{0,80}(?:需求|难题|亟需|亟待|需要解决|拟解决|征集)[^。\n]{0,80}")


def _trim_to_words(clause: str, lo: int, hi: int, limit: int) -> str:
    """The part of ``clause`` around ``[lo, hi)`` (the number) of about ``limit`` characters, two thirds of the
    room before the number, cut only between words (jieba's dictionary cut of the Chinese runs; other characters
    are words of their own)."""
    from pipelines.segment import segment

    bounds = {0, len(clause)}
    pos = 0
    for m in re.finditer(r"[\u4e00-\u9fff]+|[^\u4e00-\u9fff]", clause):
        run = m.group(0)
        for w in segment(run, keep_single=True) if run[0] >= "\u4e00" else [run]:
            pos += len(w)
            bounds.add(pos)
    room = max(0, limit - (hi - lo))
    before, after = (2 * room) // 3, room - (2 * room) // 3
    start = min((b for b in bounds if lo - before <= b <= lo), default=lo)
    end = max((b for b in bounds if hi <= b <= hi + after), default=hi)
    return clause[start:end]


def key_numbers(text: str, limit: int = KEY_NUMBERS) -> list[str]:
    """The key figures of a text (efficiency, capacity, money, counts …): each number with its unit and the words
    of its clause around it, never cut inside a word."""
    out: list[str] = []
    for m in _NUMBER.finditer(text[:8000]):
        a = max(text.rfind(c, 0, m.start()) for c in _CLAUSE_END) + 1
        ends = [e for e in (text.find(c, m.end()) for c in _CLAUSE_END) if e >= 0]
        b = min(ends) if ends else len(text)
        clause = text[a:b]
        if len(clause) > KEY_NUMBER_CHARS:
            clause = _trim_to_words(clause, m.start() - a, m.end() - a, KEY_NUMBER_CHARS)
        snippet = clause.strip()
        if snippet and snippet not in out and not re.fullmatch(r"[\d年月日\s.-]+", snippet):
            out.append(snippet)
        if len(out) >= limit:
            break
    return out


def first_match(pattern: re.Pattern[str], text: str, group: int = 1) -> str:
    m = pattern.search(text)
    if not m:
        return ""
    if group and m.lastindex:
        for g in range(1, (m.lastindex or 0) + 1):
            if m.group(g):
                return m.group(g).strip()
    return m.group(0).strip()


def owner_of(text: str) -> str:
    """The organisation a demand or an achievement belongs to: a labelled field, the organisation that did the
    work (由…研发), else the first organisation named early in the text."""
    owner = first_match(_ORG_FIELD, text)
    if owner:
        return owner
    m = re.search(r"由\s*([^，,。\n]{2,30}?)(?:研发|研制|开发|发布|完成|牵头|自主研发|联合)", text)
    if m and _ORG_NAME.search(m.group(1)):
        return m.group(1).strip()
    m = _ORG_NAME.search(text[:600])
    return m.group(0) if m else ""
