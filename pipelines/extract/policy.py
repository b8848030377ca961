"""Policy documents read as policy documents: the metadata table or header block of government pages, and
the document's own header (文号, 令) and signature (落款: 发文机关 and 成文日期).

**The table.** Government pages state a document's metadata in a table or a header block: 索引号, 主题分类,
发文机关 (spelt 发文机构, 发布机构, 制发机关, 来源 …), 成文日期, 发布日期, 发文字号, 有效性, 标题. The labels
and their spellings live in one data file, ``pipelines/data/policy_labels.yaml``. The page's lines (the
blocks of the HTML, or the lines of a text dump) are read for ``label：value`` pairs — a label alone in its
cell takes the next cell as its value, several pairs in one line are split at each label — and the pairs are
grouped by position. A group is a metadata table when it holds two *strong* labels (索引号, 发文字号, 成文日期
…) or one strong and two others: a news byline ``发布时间：… 来源：…`` is not a policy table.

**The document.** Without a table, an official document still says what it is: a number line under its title
(``国办发〔2021〕26号``), an order's header (``中华人民共和国主席令`` / ``第四十三号``), and a signature at its end —
the issuing organ(s) on their own lines above the date of writing.

Values are normalised: dates to ``YYYY-MM-DD``, 有效性 to its vocabulary word, 发文字号 without spaces.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from pipelines.extract.dates import find_dates
from pipelines.normalize import to_simplified
from pipelines.zhre import zh

LABELS_FILE = Path(__file__).resolve().parent.parent / "data" / "policy_labels.yaml"
_OPEN = r"[〔\[［(（【]"
_CLOSE = r"[〕\]］)）】]"
_NUM = r"[0-9０-９〇零一二三四五六七八九十百千]{1,8}"
# 国办发〔2021〕26号, 深交港货[2013]164号, 国家税务总局公告2018年第31号
DOC_NUMBER = re.compile(
    r"([\u4e00-\u9fff]{1,14}(?:"
    + _OPEN
    + r"\s*(?:19|20)\d{2}\s*"
    + _CLOSE
    + r"|(?:公告|通告)\s*(?:19|20)\d{2}\s*年)"
    r"\s*第?\s*\d{1,4}\s*号)"
)
# 中华人民共和国主席令第四十三号, 国务院令第708号, 证监会令（第182号）, 第43号令
ORDER_NUMBER = re.compile(
    r"([\u4e00-\u9fff]{1,24}令\s*[（(]?\s*第\s*" + _NUM + r"\s*号\s*[）)]?|第\s*" + _NUM + r"\s*号令)"
)
_ORDER_HEADER = re.compile(r"^[\u4e00-\u9fff、]{1,30}令$")
_ORDER_SEQ = re.compile(r"^[（(]?\s*第\s*" + _NUM + r"\s*号\s*[）)]?$")
_SEPARATORS = " \u3000\xa0\t|｜:：;；·•-—_"
_CELL_TAGS = frozenset(("td", "th", "dt", "dd"))
_LINES_READ = 1500  # blocks of the page searched for a table
_GROUP_GAP = 8  # lines between two pairs of one table
# the end of an organ's name (a signature line names organs, not sentences)
_ORGAN_END = zh(
    r"(?:部|委|局|院|厅|办|室|署|行|会|府|所|司|处|中心|办公室|办公厅|委员会|政府|集团|公司|学会|协会|联合会|大学|学院|"
    r"法院|检察院|银行|总局|总署|管理局|监督管理委员会)$"
)
_OFFICE = zh(r"(?:主席|总理|部长|主任|局长|行长|署长|院长|省长|市长|区长|县长|会长|理事长|书记|委员长)")
_SENTENCE = re.compile(r"[，。；：！？,;:!?]")


@dataclass(frozen=True)
class _Labels:
    field_of: dict[str, str]  # label (no spaces, simplified) → field
    strong: frozenset[str]
    pattern: re.Pattern[str]  # any label, spaces allowed between its characters
    validity: re.Pattern[str]


@lru_cache(maxsize=1)
def _labels() -> _Labels:
    data = yaml.safe_load(LABELS_FILE.read_text(encoding="utf-8"))
    field_of: dict[str, str] = {}
    strong: set[str] = set()
    for name, kinds in data["fields"].items():
        for kind in ("strong", "weak"):
            for label in kinds.get(kind) or []:
                field_of[label] = name
                if kind == "strong":
                    strong.add(label)
    alternatives = sorted(field_of, key=len, reverse=True)  # the longest spelling wins (来源网站发布日期)
    spaced = "|".join(r"[\s\u3000\xa0]*".join(zh(ch) for ch in label) for label in alternatives)
    pattern = re.compile(r"(?:^|(?<=[\s\u3000\xa0|｜】\])）>·•]))(" + spaced + r")[\s\u3000\xa0]*(?:[:：]|$)")
    validity = re.compile(zh("|".join(map(re.escape, data["validity"]))))
    return _Labels(field_of, frozenset(strong), pattern, validity)


@lru_cache(maxsize=1024)
def _label_key(raw: str) -> str:
    return to_simplified(re.sub(r"[\s\u3000\xa0]+", "", raw))


@dataclass
class _Pair:
    line: int
    field: str
    strong: bool
    value: str
    end: int  # the line holding the value (the next one when the label stands alone in its cell)


@dataclass
class PolicyTable:
    """The metadata table of a page: its fields and the lines it spans."""

    fields: dict[str, str] = field(default_factory=dict)
    first: int = -1
    last: int = -1


def _next_cell(element: Any) -> str | None:
    """The text of the cell after a label's cell (td → td, th → td, dt → dd); None when the page has none."""
    if element is None or element.tag not in _CELL_TAGS:
        return None
    sibling = element.getnext()
    while sibling is not None and not isinstance(sibling.tag, str):
        sibling = sibling.getnext()
    if sibling is None or sibling.tag not in _CELL_TAGS:
        return None
    return re.sub(r"[\s\u3000\xa0]+", " ", sibling.text_content()).strip()


def _pairs(lines: list[str], elements: list[Any] | None) -> list[_Pair]:
    labels = _labels()
    out: list[_Pair] = []
    n = min(len(lines), _LINES_READ)
    for i in range(n):
        line = lines[i]
        if len(line) > 400:
            continue
        matches = list(labels.pattern.finditer(line))
        for k, m in enumerate(matches):
            key = _label_key(m.group(1))
            name = labels.field_of.get(key)
            if name is None:
                continue
            end = matches[k + 1].start() if k + 1 < len(matches) else len(line)
            value = line[m.end() : end].strip(_SEPARATORS)
            end_line = i
            if not value and k + 1 == len(matches):
                # a label alone in its cell: the value is the next cell (empty cells stay empty) or next line
                cell = _next_cell(elements[i]) if elements is not None else None
                if cell is not None:
                    value = cell.strip(_SEPARATORS)
                elif i + 1 < n and len(lines[i + 1]) <= 200 and not labels.pattern.match(lines[i + 1]):
                    value = lines[i + 1].strip(_SEPARATORS)
                end_line = i + 1 if value and i + 1 < n and value in lines[i + 1] else i
            out.append(_Pair(i, name, key in labels.strong, value, end_line))
    return out


def is_metadata_line(line: str) -> bool:
    """A line that starts with a metadata label and a colon (发布机构：…, 索引号：…)."""
    text = line.strip()
    m = _labels().pattern.match(text)
    return m is not None and m.end() < len(text) and text[m.end() - 1] in ":："


def clean_value(name: str, value: str) -> str:
    """The normalised value of a field, or "" when the value is not one (empty cell, script residue …)."""
    value = re.sub(r"[\s\u3000\xa0]+", " ", value).strip(_SEPARATORS)
    if not value or value in ("无", "-", "--", "/", "暂无"):
        return ""
    if name in ("成文日期", "发布日期", "实施日期"):
        hits = find_dates(value)
        return hits[0].iso[:10] if hits and hits[0].start <= 2 else ""
    if name == "有效性":
        m = _labels().validity.search(value)
        return m.group(0) if m else ""
    if name == "发文字号":
        m = DOC_NUMBER.search(value) or ORDER_NUMBER.search(value)
        if m:
            return re.sub(r"\s+", "", m.group(1))
        return value if re.search(r"\d", value) and len(value) <= 40 else ""
    if name == "索引号":
        return value if re.search(r"\d", value) and len(value) <= 60 else ""
    if name == "标题":
        return value if 4 <= len(value) <= 200 else ""
    if name == "发文机关":
        if len(value) > 60 or find_dates(value) or value.lower().startswith("http"):
            return ""
        return value
    return value if len(value) <= 60 else ""


def read_table(lines: list[str], elements: list[Any] | None = None) -> PolicyTable:
    """The metadata table among the page's lines (an empty table when there is none).

    ``elements`` (the block element of each line, for an HTML page) lets a label cell take its value from the
    next cell of its row, so that an empty cell never borrows the text that follows the table.
    """
    pairs = [p for p in _pairs(lines, elements) if clean_value(p.field, p.value)]
    groups: list[list[_Pair]] = []
    for pair in pairs:
        if groups and pair.line - groups[-1][-1].line <= _GROUP_GAP:
            groups[-1].append(pair)
        else:
            groups.append([pair])
    best: list[_Pair] = []
    for group in groups:
        strong = {p.field for p in group if p.strong}
        names = {p.field for p in group}
        if (len(strong) >= 2 or (strong and len(names) >= 3)) and len(names) > len({p.field for p in best}):
            best = group
    if not best:
        return PolicyTable()
    fields: dict[str, str] = {}
    for pair in sorted(best, key=lambda p: not p.strong):  # a strong label's value before a weak one's
        fields.setdefault(pair.field, clean_value(pair.field, pair.value))
    return PolicyTable(fields, best[0].line, max(p.end for p in best))


def is_document_header(line: str) -> bool:
    """An order's header (…令), its sequence (第四十三号) or a document number on a line of its own."""
    text = line.strip(_SEPARATORS)
    return bool(
        _ORDER_HEADER.match(text)
        or _ORDER_SEQ.match(text)
        or DOC_NUMBER.fullmatch(text)
        or ORDER_NUMBER.fullmatch(text)
    )


def header_number(lines: list[str]) -> str:
    """The document number standing on its own line near the top (国发〔2018〕43号, an order's 令 and 第N号)."""
    for i, line in enumerate(lines[:12]):
        text = line.strip(_SEPARATORS)
        if _ORDER_HEADER.match(text) and i + 1 < len(lines) and _ORDER_SEQ.match(lines[i + 1].strip()):
            return re.sub(r"\s+", "", text + lines[i + 1].strip().strip("（()）"))
        m = DOC_NUMBER.fullmatch(text) or ORDER_NUMBER.fullmatch(text)
        if m:
            return re.sub(r"\s+", "", m.group(1))
    return ""


def is_signature_line(line: str) -> bool:
    """An organ (国务院办公厅) or an office and a name (中华人民共和国主席 习近平) on a line of its own."""
    text = line.strip(_SEPARATORS)
    if not (2 <= len(text) <= 40) or _SENTENCE.search(text) or find_dates(text):
        return False
    if re.search(_ORGAN_END, text):
        return True
    return bool(re.search(_OFFICE + r"\s*[\u4e00-\u9fff·]{2,4}$", text))


def is_date_line(line: str) -> bool:
    """A line that is a date and nothing more (the 成文日期 of a signature)."""
    text = line.strip(_SEPARATORS)
    hits = find_dates(text)
    return bool(hits) and len(text) - (hits[0].end - hits[0].start) <= 2


def signature(lines: list[str]) -> tuple[list[str], str, int]:
    """(organs, date, index of the first signature line) of the document's 落款 among its last lines."""
    for d in range(len(lines) - 1, max(-1, len(lines) - 8), -1):
        if not is_date_line(lines[d]):
            continue
        organs: list[str] = []
        k = d - 1
        while k >= 0 and d - k <= 3 and is_signature_line(lines[k]):
            organs.insert(0, lines[k].strip(_SEPARATORS))
            k -= 1
        if organs:
            return organs, find_dates(lines[d])[0].iso[:10], k + 1
    return [], "", -1


def _organ(line: str) -> str:
    """中华人民共和国主席 习近平 → 中华人民共和国主席 (the office signs, not the person)."""
    if re.search(_ORGAN_END, line):
        return line
    m = re.match(r"^(.*?" + _OFFICE + r")\s*[\u4e00-\u9fff·]{2,4}$", line)
    return m.group(1) if m else line


def document_fields(lines: list[str]) -> dict[str, str]:
    """The fields an official document states in its own text: number, issuing organ, date of writing."""
    out: dict[str, str] = {}
    number = header_number(lines)
    if number:
        out["发文字号"] = number
    organs, date, _ = signature(lines)
    if organs:
        out["发文机关"] = "、".join(_organ(o).replace(" ", "") for o in organs)
        out["成文日期"] = date
    return out


def policy_fields(
    text: str | list[str],
    body: list[str] | None = None,
    elements: list[Any] | None = None,
    table: PolicyTable | None = None,
) -> dict[str, Any]:
    """The policy fields a page states ({} for an ordinary article): its table first, then its own text.

    ``text`` is the page's lines (or one text, split at line breaks); ``body`` the article's paragraphs, where
    the document's number and signature are looked for (default: the lines themselves); ``table``: what
    :func:`read_table` already read from the same lines and elements.
    """
    lines = text.split("\n") if isinstance(text, str) else text
    if table is None:
        table = read_table(lines, elements)
    out: dict[str, Any] = dict(table.fields)
    for name, value in document_fields(body if body is not None else lines).items():
        out.setdefault(name, value)
    if set(out) <= {"发布日期"}:  # a lone 发布时间 is an ordinary byline, not a policy page
        return {}
    return out
