"""Talents: every person a text presents as a scientist, engineer or expert, with title and affiliation.

A person is recognised by how such texts present people (every form below is a way of writing, never one
document's wording):

* a title beside the name — before it or after it, a space allowed between (中国工程院院士王小谟, 黄贤金教授,
  报告人：陆朝阳 教授); a position (院长, 所长, 主任) counts only with a research organisation, a company head only
  with a technical title;
* a research team named after its leader (黎建团队, 潘建伟、张强等组成的研究团队);
* a name with its organisation in brackets or before it in a list (丁洪（上海交通大学）、…; 武汉大学 刘胜；…);
* a list of honoured or elected people (…奖授予李文辉、赵忠贤; 当选…名单);
* the authors of a paper with their numbered affiliations (张明远1，李静2 / (1. 华北电力大学 …));
* a sentence that opens with the name and describes the person (钟南山，呼吸病学专家，…; 刘嘉麒是…研究员);
* teaching or research at a university (季羡林已在北京大学…任教), a cited paper (赵培. …[J]), a bio (…，男，1965年生);
* in a text about one person (a talent profile), the person it keeps naming.

Journalists and editors (记者, 编辑, 责编, 通讯员 …) are never talents, nor people named only in an administrative
role. Names are checked against the surnames of ``pipelines/data/people.yaml`` and against jieba's dictionary (a
common word such as 方面 or 成就 is no name). Texts are read in simplified script; a name found there is reported
as the original text writes it (王小謨), and its id stays the simplified form.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

from pipelines.route.lexicon import People, is_name_word, load_people, word_frequency
from pipelines.terms import Compiled

_CJK = re.compile(r"[\u4e00-\u9fff]")
# a person's name never spans these; they end the text read before or after a title
_DELIMS = frozenset("，,。；;：:、\n（）()“”\"‘’'《》【】[]！!？?—-·•|/ \t")
_ORG_SUFFIX = re.compile(
    r"(?:大学|学院|研究所|研究院|研究中心|研究部|研究室|科学院|工程院|医院|有限责任公司|股份有限公司|有限公司|公司|集团|"
    r"实验室|中心|学会|协会|学校|中学|分院|事务所|基金会|工作室|研究会|科技园|设计院|卫生院|学部|厂|"
    r"(?<=[学程术理化物机息])系)"
)
# organisations whose heads count as experts (a university's 校长, an institute's 所长; not a company's 董事长)
_RESEARCH_ORG = re.compile(
    r"(?:大学|学院|研究所|研究院|研究中心|研究部|研究室|科学院|工程院|实验室|学会|协会|医院|分院|所|学部)$"
)
_SCHOLAR = re.compile(r"[\u4e00-\u9fff]{1,6}?学家")  # 地球物理学家, 化学家: a scholar by field
_SENTENCE_START = re.compile(r"(?:^|(?<=[\n。！？!?；;】]))\s*")
_PAPER = re.compile(r"摘\s*要|关键词|关键字|中图分类号|文献标识码|基金项目|收稿日期|DOI|doi")
_MARKED_NAME = r"[\u4e00-\u9fff]{2,4}\s*(?:[\d¹²³⁴⁵⁶⁷⁸⁹⁰]+[,，]?)*\*?"
_AUTHOR_LINE = re.compile(
    rf"^[ \t]*(?:作\s*者\s*[：:]\s*)?((?:{_MARKED_NAME}\s*[，,、；;]\s*)+{_MARKED_NAME})[ \t]*$", re.M
)
_NUMBERED_ORG = re.compile(
    r"(?:^|[（(；;\s])\s*([\d¹²³⁴⁵⁶⁷⁸⁹⁰]+)\s*[.．、]?\s*([\u4e00-\u9fff（）()]{2,40}?)(?=[\s，,；;）)]|$)"
)
_BRACKET_ORG = re.compile(r"\s*[（(]([^（）()]{2,30})[）)]")
_PAREN_ORG = re.compile(r"([\u4e00-\u9fff]{2,4})\s*[（(]([^（）()]{2,40}?)[）)]")
_ORG_THEN_NAME = re.compile(
    r"(?:大学|学院|研究所|研究院|研究中心|科学院|工程院|医院|公司|集团|实验室)(?:[（(][^）()]{1,10}[）)])?"
    r"[ \t\u3000]+([\u4e00-\u9fff]{2,4})(?=\s*(?:[；;，,、。\n]|$))"
)
_WORKS_AT = re.compile(
    r"([\u4e00-\u9fff]{2,3})(?:已|曾|现|一直|长期)?在"
    r"([\u4e00-\u9fff]{2,24}?(?:大学|学院|研究所|研究院|科学院|实验室|研究中心)[\u4e00-\u9fff]{0,8}?)"
    r"(?:任教|执教|任研究员|从事[\u4e00-\u9fff]{0,12}研究)"
)
_CITED = re.compile(r"\[[JMCDR]\]")
_CITATION = re.compile(
    r"(?:^|[\n：:；;。\s])((?:[\u4e00-\u9fff]{2,3}[,，、])*[\u4e00-\u9fff]{2,3})(?:等)?[.．]\s*"
    r"[^\n\[\]]{4,80}\[[JMCDR]\]"
)
_BIO = re.compile(r"(?:^|[\n。：:])\s*([\u4e00-\u9fff]{2,4})[，,]\s*[男女][，,]")
_AWARD_AFTER_ORG = re.compile(r"(?:荣获|获得|获评|获|当选|入选)")
_NAMED_BY_ORG = re.compile(r"研究所|研究院|科学院|实验室|研究中心|研究部|大学|学院")
_EXPERT_SAYS = re.compile(r"(?:却|也|则|还|曾)?(?:撰文|指出|认为|分析|表示|解释|介绍说|建议|强调)")
_DESCRIBES = re.compile(r"(?:是|为|系|现任|现为|曾任|担任)")
_SOFT_CUT = ("和", "与", "及")  # inside names of organisations too: 信息与通信工程学院
_PROFILE_MIN_MENTIONS = 3


@dataclass
class Talent:
    name: str
    title: str
    affiliation: str
    start: int = -1  # where the evidence of the person begins in the text read (headline + body)
    context: str = field(default="", repr=False)  # the words around the person, for their domain


# ----------------------------------------------------------------------------------------------------------
# names
# ----------------------------------------------------------------------------------------------------------
def is_name(cand: str, lx: People, strong: bool = False, reverse: bool = False) -> bool:
    """Whether ``cand`` reads as a Chinese personal name. ``strong``: right beside a title or in an explicit list
    (rare surnames count, common words are held to a higher bar); ``reverse``: read backwards from a title (a
    third character that usually ends a name is then allowed)."""
    n = len(cand)
    if n < 2 or n > 4 or not all(_CJK.match(c) for c in cand):
        return False
    if any(c in lx.not_in_name for c in cand[1:]):
        return False
    if cand in lx.not_names or cand[:2] in lx.not_names:
        return False
    if cand[:2] in lx.compound_surnames:
        return n in (3, 4)
    if n == 4:
        return False
    first = cand[0]
    rare = first not in lx.surnames
    if rare and not (strong and first in lx.rare_surnames):
        return False
    if n == 3 and cand[2] in lx.not_third and not reverse:
        return False
    if rare and (word_frequency(cand) >= 20 or word_frequency(cand[:2]) >= 20):
        return False  # 干事, 诸如, 弘扬: a word, not a rare surname
    if is_name_word(cand):
        return True
    if word_frequency(cand) >= (2000 if strong else 150):
        return False  # a common word (方面, 高度 …; 干事, 诸如 for a rare surname)
    if n == 3:
        head, tail = cand[:2], cand[1:]
        if not is_name_word(head) and word_frequency(head) >= (20 if rare else 3000 if strong else 600):
            return False  # 成就奖, 高度评
        if not strong and not is_name_word(tail) and word_frequency(tail) >= 10000:
            return False  # 应具有 (beside a title a given name may be a word: 雷加强, 朱英国)
    return not any(
        t in cand for t in ("院士", "教授", "专家", "研究", "工程", "大学", "学院", "公司", "主任")
    )


def _starts_word(text: str, i: int) -> bool:
    """A dictionary word of two or three characters begins at ``i``."""
    return any(word_frequency(text[i : i + k]) >= 50 for k in (2, 3))


def _ends_word(text: str, i: int) -> bool:
    """A dictionary word of two or three characters ends at ``i``."""
    return any(i - k >= 0 and word_frequency(text[i - k : i]) >= 50 for k in (2, 3))


def _word_through(text: str, i: int) -> bool:
    """A dictionary word of two or three characters ends with the character at ``i`` (设计师 in 设计师胡震)."""
    return any(i - k + 1 >= 0 and word_frequency(text[i - k + 1 : i + 1]) >= 50 for k in (2, 3))


def _boundary_after(text: str, end: int, lx: People) -> bool:
    """A name may end here: end of text, a delimiter, a verb or particle, a title, a team, or a word."""
    if end >= len(text):
        return True
    ch = text[end]
    if ch in _DELIMS or not _CJK.match(ch) or ch in lx.after_name:
        return True
    rest = text[end : end + 8]
    if lx.title_re.match(rest) or lx.team_re.match(rest) or lx.speech_re.match(rest):
        return True
    if rest.startswith(lx.honorifics) or rest.startswith(("等", "团队", "课题组", "院士", "研究")):
        return True
    return _starts_word(text, end)


@lru_cache(maxsize=8)
def _before_ok(before_name: frozenset[str]) -> re.Pattern[str]:
    return re.compile(
        r"(?:大学|学院|研究所|研究院|中心|科学院|工程院|医院|公司|集团|实验室|学会|协会|学校|中学|分院|所|部|院|会|系|"
        r"长|师|员|授|士|家|记|任|理|官|者|人|生|的|原|副|兼|著名|知名|资深|青年|"
        + "|".join(map(re.escape, sorted(before_name)))
        + r")$"
    )


def _boundary_before(text: str, start: int, lx: People) -> bool:
    """A name may start here: start of text, a delimiter, an organisation, a title, a function word or a word."""
    if start <= 0:
        return True
    ch = text[start - 1]
    if ch in _DELIMS or not _CJK.match(ch):
        return True
    if _before_ok(lx.before_name).search(text[max(0, start - 8) : start]):
        return True
    return _ends_word(text, start)


def _run_after(text: str, start: int, skip_space: bool) -> tuple[int, str]:
    i = start
    if skip_space and i < len(text) and text[i] in " \t\u3000":
        i += 1
    run = []
    for ch in text[i : i + 4]:
        if ch in _DELIMS or not _CJK.match(ch):
            break
        run.append(ch)
    return i, "".join(run)


def name_after(
    text: str, start: int, lx: People, *, skip_space: bool = True, strong: bool = True
) -> tuple[str, int]:
    """A name starting at ``start`` (after a title), and where it starts: three characters unless the third ends
    the name."""
    i, s = _run_after(text, start, skip_space)
    cands = [s[:4], s[:3]] if s[:2] in lx.compound_surnames else [s[:3], s[:2]]
    for cand in cands:
        if len(cand) < 2:
            continue
        if text.startswith(lx.honorifics, i + len(cand) - 1):
            continue
        if any(word_frequency(text[i : i + k]) > 0 for k in range(len(cand) + 1, 5)):
            continue  # the name would be the start of a longer word: 齐聚一堂
        if is_name(cand, lx, strong) and _boundary_after(text, i + len(cand), lx):
            return cand, i
    return "", i


def name_before(
    text: str, end: int, lx: People, *, skip_space: bool = True, strong: bool = True
) -> tuple[str, int]:
    """A name ending at ``end`` (just before a title), read backwards, and where it starts."""
    i = end
    if skip_space and i > 0 and text[i - 1] in " \t\u3000":
        i -= 1
    run: list[str] = []
    k = i - 1
    while k >= 0 and len(run) < 4:
        ch = text[k]
        if ch in _DELIMS or not _CJK.match(ch):
            break
        run.append(ch)
        k -= 1
    s = "".join(reversed(run))
    for n in (4, 3, 2):
        cand = s[-n:] if len(s) >= n else ""
        if not cand:
            continue
        if n == 4 and cand[:2] not in lx.compound_surnames:
            continue
        if n == 3 and cand[0] in lx.before_name:
            continue
        if n == 3 and _word_through(text, i - n):
            continue  # the first character ends a word before it: 总设计师胡震 → 胡震
        if is_name(cand, lx, strong, reverse=True) and _boundary_before(text, i - n, lx):
            return cand, i - n
    return "", i


# ----------------------------------------------------------------------------------------------------------
# organisation and title before a name
# ----------------------------------------------------------------------------------------------------------
def _segment_before(text: str, end: int, lx: People, limit: int = 30) -> str:
    """The text before ``end`` back to the nearest delimiter or function word."""
    start = max(0, end - limit)
    seg = text[start:end]
    cut = max((seg.rfind(d) for d in _DELIMS), default=-1)
    seg = seg[cut + 1 :]
    for w in lx.cut_words:
        k = seg.rfind(w)
        if k < 0:
            continue
        rest = seg[k + len(w) :]
        if not _ORG_SUFFIX.search(rest):
            continue
        before = seg[:k]
        if (
            w in _SOFT_CUT
            and before
            and not (_ORG_SUFFIX.search(before[-4:]) or lx.title_re.search(before[-5:]))
        ):
            continue
        seg = rest
    return seg


def _org_and_position(seg: str) -> tuple[str, str]:
    """Split the text before a name into organisation and position: 西南大学党委书记 → (西南大学, 党委书记)."""
    last = None
    for m in _ORG_SUFFIX.finditer(seg):
        last = m
    if last is None:
        return "", seg
    org, pos = seg[: last.end()], seg[last.end() :]
    if pos.startswith(("院士", "会士")):  # 中国科学院院士: the academy is part of the title
        return "", seg
    org = re.sub(r"^(?:原|前|现任|现|曾任)", "", org)
    if len(_CJK.findall(org)) < 3:
        return "", seg
    return org, pos.strip("的")


def _bylines(text: str, lx: People, paper: bool) -> set[str]:
    """Names of journalists, editors, photographers: never talents (a paper's 作者 are its researchers)."""
    out: set[str] = set()
    for m in lx.byline_re.finditer(text):
        head = m.group(0)[: m.start(1) - m.start(0)]
        if paper and head.lstrip().startswith("作者"):
            continue
        listed = "：" in head or ":" in head
        parts = re.split(r"[ \t、，,/]+", m.group(1))
        for part in parts if listed else parts[:1]:
            for n in (4, 3, 2):
                if len(part) >= n and is_name(part[:n], lx, strong=True, reverse=True):
                    out.add(part[:n])
    return out


def _sentence(text: str, i: int, ends_with: str = "。！？\n") -> tuple[int, int]:
    start = max(text.rfind(c, 0, i) for c in ends_with) + 1
    ends = [e for e in (text.find(c, i) for c in ends_with) if e >= 0]
    return start, min(ends) if ends else len(text)


class _Finder:
    """The persons of one text, collected as each way of presenting people finds them."""

    def __init__(self, text: str, lx: People):
        self.text = text
        self.lx = lx
        self.paper = bool(_PAPER.search(text[:3000]))
        self.excluded = _bylines(text, lx, self.paper)
        self.found: dict[str, Talent] = {}

    def add(self, name: str, word: str, seg: str, start: int, org: str | None = None) -> None:
        lx = self.lx
        if not name or name in self.excluded:
            return
        pos = ""
        if org is None:
            org, pos = _org_and_position(seg)
        if word in lx.positions and not (org and _RESEARCH_ORG.search(org)):
            return  # 院长/主任 without a research organisation: an administrative role, not a talent
        if word in lx.business_positions and not any(t in pos for t in lx.titles):
            return  # a company's 董事长 is an expert only with a technical title (首席技术官, 总工程师)
        pos = pos.strip("、，, ") if org or pos.endswith(("院士", "科学院", "工程院")) else ""
        if pos and (len(pos) > 16 or is_name(pos, lx)):
            pos = ""
        if word in lx.positions or word in lx.business_positions or pos.endswith(("科学院", "工程院")):
            full_title = pos + word
        else:
            full_title = "、".join(p for p in (word, pos) if p)
        a, b = _sentence(self.text, max(0, start), "。！？；;\n")
        context = self.text[max(a, start - 60) : min(b, start + 60)]
        prev = self.found.get(name)
        if prev is None:
            self.found[name] = Talent(name, full_title, org, start, context)
            return
        if not prev.affiliation and org:
            prev.affiliation = org
        if word and word not in prev.title:
            prev.title = "、".join(p for p in (prev.title, word) if p)
        prev.context += " " + context

    # ---- a title beside the name ----------------------------------------------------------------------------
    def titles(self) -> None:
        text, lx = self.text, self.lx
        for m in lx.title_re.finditer(text):
            word = m.group(0)
            if text.startswith(lx.title_continuations, m.end()):
                continue  # 博士学位, 科学家精神, 院士工作站: no person's title
            after, at = name_after(text, m.end(), lx)
            if after:
                self.add(after, word, _segment_before(text, m.start(), lx), at)
                self._bracketed_org(after, at + len(after))
            if word in lx.titles and word != "讲座教授":  # 杨振宁讲座教授 names a chair
                before, at = name_before(text, m.start(), lx)
                if before:
                    self.add(before, word, _segment_before(text, at, lx), at)
                    self._bracketed_org(before, m.end())
        for m in _SCHOLAR.finditer(text):  # 地球物理学家黄大年, 黄大年，著名地球物理学家
            after, at = name_after(text, m.end(), lx, skip_space=False)
            if after:
                self.add(after, m.group(0)[-4:], _segment_before(text, m.start(), lx), at)

    def _bracketed_org(self, name: str, end: int) -> None:
        """An organisation in brackets right after a person (赵立明 教授（武汉大学）) is their affiliation."""
        m = _BRACKET_ORG.match(self.text, end)
        t = self.found.get(name)
        if m and t is not None and not t.affiliation and _ORG_SUFFIX.search(m.group(1)):
            t.affiliation = m.group(1)

    # ---- a team named after its leader ----------------------------------------------------------------------
    def teams(self) -> None:
        text, lx = self.text, self.lx
        for m in lx.team_re.finditer(text):
            start = m.start()
            head = text[max(0, start - 8) : start]
            k = head.rfind("等")
            if k >= 0 and head[k + 1 :] in ("", "组成的", "组成", "领衔的", "带领的"):
                self._listed_before(start - (len(head) - k), text)
                continue
            name, at = name_before(text, start, lx, skip_space=False, strong=False)
            if name and not (len(name) == 3 and name[2] in lx.not_third):
                self.add(name, "", _segment_before(text, at, lx), at)

    def _listed_before(self, end: int, text: str) -> None:
        """Names joined by 、 that end at ``end`` (潘建伟、张强等).'"""
        seg_start = max(text.rfind(c, 0, end) for c in "，,。；;：:\n") + 1
        seg = text[seg_start:end]
        parts = seg.split("、")
        for j, part in enumerate(parts):
            name = part
            org = ""
            if j == 0:  # the first name may follow its organisation: 中国科学技术大学潘建伟
                cand, _ = name_before(part, len(part), self.lx, skip_space=False)
                if cand:
                    org, _ = _org_and_position(part[: len(part) - len(cand)])
                    name = cand
            if is_name(name, self.lx, strong=True):
                self.add(name, "", "", seg_start + seg.find(part), org=org)

    # ---- names with their organisation ------------------------------------------------------------------------
    def organisations(self) -> None:
        text, lx = self.text, self.lx
        for m in _PAREN_ORG.finditer(text):
            name, org = m.group(1), m.group(2)
            if not _ORG_SUFFIX.search(org) or not _boundary_before(text, m.start(1), lx):
                continue
            if is_name(name, lx, strong=True, reverse=True):
                self.add(name, "", "", m.start(1), org=org)
        for m in _ORG_THEN_NAME.finditer(text):
            name = m.group(1)
            if is_name(name, lx, strong=True):
                seg = text[
                    max(text.rfind(c, 0, m.start()) for c in "；;，,、。：:\n") + 1 : m.start(1)
                ].strip()
                org, _ = _org_and_position(seg)
                self.add(name, "", "", m.start(1), org=org or seg)
        orgs = list(_ORG_SUFFIX.finditer(text))
        # an award to a researcher of an institute: 北京生命科学研究所邵峰荣获
        for m in orgs:
            if not re.match(r"研究所|研究院|科学院|实验室|研究中心|大学|学院", m.group(0)):
                continue
            for n in (2, 3):
                name = text[m.end() : m.end() + n]
                if (
                    is_name(name, lx)
                    and _AWARD_AFTER_ORG.match(text, m.end() + n)
                    and _boundary_before(text, m.end(), lx)
                ):
                    self.add(name, "", _segment_before(text, m.end(), lx), m.end())
                    break
        # a researcher of an institute in an award list (…研究所王贻芳、…教授陆锦标获…奖) or speaking as its
        # expert (…研究中心技术经济研究部的郭励弘却撰文指出)
        for m in orgs:
            if not _NAMED_BY_ORG.match(m.group(0)) or not _boundary_before(text, m.end(), lx):
                continue
            start = m.end() + (1 if text.startswith("的", m.end()) else 0)
            for n in (3, 2):
                name = text[start : start + n]
                if not is_name(name, lx, reverse=n == 2):
                    continue
                clause = text[start + n : start + n + 40].split("。", 1)[0]
                listed = text[start + n : start + n + 1] in "、，," and bool(_AWARD_AFTER_ORG.search(clause))
                if listed or _EXPERT_SAYS.match(text, start + n):
                    self.add(name, "", _segment_before(text, m.end(), lx), start)
                    break

    # ---- lists of honoured or elected people ---------------------------------------------------------------------
    def honour_lists(self) -> None:
        text, lx = self.text, self.lx
        for m in lx.list_re.finditer(text):
            a, b = _sentence(text, m.start())
            for seg_m in re.finditer(r"[^，,；;。：:\n]+", text[a:b]):
                seg = seg_m.group(0)
                seg_start = a + seg_m.start()
                cue = lx.list_re.search(seg)
                body = seg[cue.end() :] if cue else seg
                offset = seg_start + (cue.end() if cue else 0)
                parts = [p.strip() for p in re.split(r"[、]|和|及", body)]
                if not parts or not all(is_name(p, lx, strong=True) for p in parts if p):
                    continue
                if len(parts) < 2 and not cue:
                    continue
                for p in parts:
                    if p:
                        self.add(p, "", "", offset + body.find(p), org="")

    # ---- the authors of a paper -------------------------------------------------------------------------------
    def authors(self) -> None:
        text, lx = self.text, self.lx
        for m in _AUTHOR_LINE.finditer(text[:3000]):
            line = m.group(1)
            marked = bool(re.search(r"[\d¹²³⁴⁵⁶⁷⁸⁹⁰*]", line))
            if not (marked or self.paper or text[m.start() : m.start() + 6].lstrip().startswith("作")):
                continue
            if not (marked or self.paper):
                continue
            orgs = self._numbered_orgs(text[m.end() : m.end() + 400])
            for tok in re.split(r"\s*[，,、；;]\s*", line):
                tm = re.match(r"([\u4e00-\u9fff]{2,4})\s*([\d¹²³⁴⁵⁶⁷⁸⁹⁰]*)", tok)
                if not tm or not is_name(tm.group(1), lx, strong=True):
                    continue
                num = tm.group(2).translate(_SUPERSCRIPTS)[:1]
                org = orgs.get(num, "") or (next(iter(orgs.values())) if len(orgs) == 1 else "")
                self.add(tm.group(1), "", "", m.start(1) + line.find(tok), org=org)

    @staticmethod
    def _numbered_orgs(block: str) -> dict[str, str]:
        out: dict[str, str] = {}
        for m in _NUMBERED_ORG.finditer(block):
            num = m.group(1).translate(_SUPERSCRIPTS)
            org_m = None
            for om in _ORG_SUFFIX.finditer(m.group(2)):
                org_m = om
            if org_m is not None and num not in out:
                out[num] = m.group(2)[: org_m.end()]
        if not out:
            first = _ORG_SUFFIX.search(block[:80])
            if first:
                line = block[: first.end()].split("\n")[-1].strip(" （(")
                if len(line) >= 3:
                    out[""] = line
        return out

    # ---- a sentence that opens with the name and describes the person ----------------------------------------
    def descriptions(self) -> None:
        text, lx = self.text, self.lx
        starters = lx.surnames | lx.rare_surnames
        for m in _SENTENCE_START.finditer(text):
            i = m.end()
            if text[i : i + 1] not in starters and text[i : i + 2] not in lx.compound_surnames:
                continue
            name, at = name_after(text, i, lx, skip_space=False, strong=True)
            if not name or at != i:
                continue
            j = at + len(name)
            a, b = _sentence(text, j)
            rest = text[j : min(b, j + 60)]
            if rest[:1] in "，,":
                pass
            elif not _DESCRIBES.match(rest):
                continue
            tm = lx.title_re.search(rest) or _SCHOLAR.search(rest)
            if tm is None:
                continue
            word = tm.group(0)
            if word in lx.positions or word in lx.business_positions:
                seg = rest[: tm.start()]
                org, _ = _org_and_position(re.split(r"[，,、]", seg)[-1])
                if not (org and _RESEARCH_ORG.search(org)):
                    continue
            seg = re.split(r"[，,、]|是|为|系|现任|担任", rest[: tm.start()])[-1]
            org, _ = _org_and_position(seg)
            self.add(name, word if not word.endswith("学家") else word[-4:], "", at, org=org)

    # ---- the older forms --------------------------------------------------------------------------------------
    def others(self) -> None:
        text, lx = self.text, self.lx
        # teaching or doing research at a university or institute: 季羡林已在北京大学东方语文系任教
        if any(w in text for w in ("任教", "执教", "任研究员", "从事")):
            for m in _WORKS_AT.finditer(text):
                name = m.group(1)
                if is_name(name, lx, reverse=True) and _boundary_before(text, m.start(1), lx):
                    org, _ = _org_and_position(m.group(2))
                    self.add(name, "", "", m.start(1), org=org)
        # the author of a cited paper: 赵培. 淘宝网物流配送存在的问题及对策研究[J]
        if _CITED.search(text):
            for m in _CITATION.finditer(text):
                for name in re.split(r"[,，、]", m.group(1)):
                    if is_name(name, lx, reverse=True):
                        self.add(name, "", "", m.start(1), org="")
        # a bio: 李金泽，男，1965年生
        for m in _BIO.finditer(text):
            if is_name(m.group(1), lx, reverse=True):
                words = [w.group(0) for w in lx.title_re.finditer(text, m.end(), m.end() + 60)]
                self.add(
                    m.group(1), "、".join(dict.fromkeys(w for w in words if w in lx.titles)), "", m.start(1)
                )

    # ---- the person a profile keeps naming --------------------------------------------------------------------
    def profile_subject(self) -> None:
        text, lx = self.text, self.lx
        counts: dict[str, int] = {}
        first: dict[str, int] = {}
        for m in _SENTENCE_START.finditer(text):
            if text[m.end() : m.end() + 1] not in lx.surnames:
                continue
            name, at = name_after(text, m.end(), lx, skip_space=False, strong=False)
            if name and at == m.end():
                counts[name] = counts.get(name, 0) + 1
                first.setdefault(name, at)
        for name, at in first.items():
            if counts[name] + text.count(name) - counts[name] >= _PROFILE_MIN_MENTIONS:
                self.add(name, "", "", at, org="")


_SUPERSCRIPTS = str.maketrans("¹²³⁴⁵⁶⁷⁸⁹⁰", "1234567890")


def extract_talents(
    text: str, title: str = "", lexicon: People | None = None, *, profile: bool = False
) -> list[Talent]:
    """Persons presented as scientists, engineers or experts, in order of first mention, one per name.
    ``profile``: the text is about one person (a talent profile), so the person it keeps naming is one."""
    lx = lexicon or load_people()
    full = f"{title}\n{text}" if title else text
    f = _Finder(full, lx)
    f.titles()
    f.teams()
    f.organisations()
    f.honour_lists()
    f.authors()
    f.descriptions()
    f.others()
    if profile:
        f.profile_subject()
    out = [t for t in f.found.values() if t.name not in f.excluded]
    return sorted(out, key=lambda t: t.start)


# ----------------------------------------------------------------------------------------------------------
# a person's own domain
# ----------------------------------------------------------------------------------------------------------
def person_domains(talent: Talent, comp: Compiled, lx: People) -> tuple[list[str], list[str]]:
    """The tech domain of one person from their own context (title, affiliation, the words around the name):
    the taxonomy's domain terms there and the lexicon's field words (``disciplines``) of the affiliation and
    title. Returns the domains (best first; empty when the context names none) and the evidence."""
    scores: dict[str, float] = {}
    ev: list[str] = []
    own = f"{talent.affiliation} {talent.title}"
    context = talent.context
    for part in (talent.affiliation, talent.title, talent.name):
        if part:
            context = context.replace(part, " ")  # the affiliation's field words count once, below
    for term, n in comp.counter.count(context).items():
        for dom, _sub in comp.domain_terms.get(term, ()):
            scores[dom] = scores.get(dom, 0.0) + min(n, 2) * (1.0 if len(term) > 1 else 0.5)
            ev.append(f"context:{term}")
    for dom, words in lx.disciplines.items():
        for w in words:
            if w in own:
                scores[dom] = scores.get(dom, 0.0) + 1.0
                ev.append(f"affiliation:{w}")
    if not scores:
        return [], []
    best = max(scores.values())
    ranked = sorted((d for d, s in scores.items() if s >= 0.5 * best), key=lambda d: -scores[d])
    return ranked[:2], ev[:6]


def original_name(name: str, original: str, simplified: str) -> str:
    """The name as the original text writes it (traditional script stays traditional): ``simplified`` is the
    original converted to simplified script character by character, so positions agree."""
    if not original or len(original) != len(simplified):
        return name
    i = simplified.find(name)
    return original[i : i + len(name)] if i >= 0 else name
