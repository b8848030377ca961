"""Talents: every person a text presents as a scientist, engineer or expert, with title and affiliation.

Journalists and editors (记者, 编辑, 责编, 通讯员 ...) are never talents, nor people named only in an administrative
role. The words are data: ``pipelines/data/people.yaml`` (:mod:`pipelines.route.lexicon`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from pipelines.route.lexicon import People, load_people


@dataclass
class Talent:
    name: str
    title: str
    affiliation: str


_RESEARCH_ORG = re.compile(
    r"(?:大学|学院|研究所|研究院|研究中心|研究部|科学院|工程院|实验室|学会|协会|医院|分院|所)$"
)
_ORG_SUFFIX = re.compile(
    r"(?:大学|学院|研究所|研究院|研究中心|研究部|科学院|工程院|医院|有限责任公司|股份有限公司|有限公司|公司|集团|"
    r"实验室|中心|学会|协会|学校|中学|分院|事务所|基金会|工作室|研究会|科技园|设计院|卫生院|厂|"
    r"(?<=[学程术理化物机息])系)"
)
# a person's name never spans these; they end the text read before or after a title
_DELIMS = set("，,。；;：:、\n（）()“”\"‘’'《》【】[]！!？?—-·•|/ \t")
_CJK = re.compile(r"[\u4e00-\u9fff]")


@lru_cache(maxsize=8)
def _before_ok(before_name: frozenset[str]) -> re.Pattern[str]:
    return re.compile(
        r"(?:大学|学院|研究所|研究院|中心|科学院|工程院|医院|公司|集团|实验室|学会|协会|学校|中学|分院|所|部|院|会|"
        r"长|师|员|授|士|家|记|任|理|官|者|人|生|的|原|副|兼|著名|知名|资深|青年|"
        + "|".join(map(re.escape, sorted(before_name)))
        + r")$"
    )


def _is_name(name: str, reverse: bool = False, *, lx: People) -> bool:
    if len(name) < 2 or len(name) > 4 or not all(_CJK.match(c) for c in name):
        return False
    if any(c in lx.not_in_name for c in name[1:]):
        return False
    if name[:2] in lx.compound_surnames:
        return len(name) >= 3
    if name[0] not in lx.surnames or len(name) > 3:
        return False
    if name[:2] in lx.not_names or name in lx.not_names:
        return False
    if len(name) == 3 and name[2] in lx.not_third and not reverse:
        return False
    return not any(
        t in name for t in ("院士", "教授", "专家", "研究", "工程", "大学", "学院", "公司", "主任")
    )


def _boundary_after(text: str, end: int, *, lx: People) -> bool:
    """A name may end here: end of text, a delimiter, a verb or particle, or a title/honorific."""
    if end >= len(text):
        return True
    ch = text[end]
    if ch in _DELIMS or not _CJK.match(ch) or ch in lx.after_name:
        return True
    rest = text[end : end + 7]
    return bool(lx.title_re.match(rest)) or rest.startswith(
        ("先生", "女士", "同志", "老师", "团队", "课题组")
    )


def _boundary_before(text: str, start: int, *, lx: People) -> bool:
    """A name may start here: start of text, a delimiter, an organisation, a title or a function word."""
    if start <= 0:
        return True
    ch = text[start - 1]
    if ch in _DELIMS or not _CJK.match(ch):
        return True
    return bool(_before_ok(lx.before_name).search(text[max(0, start - 8) : start]))


def _name_after(text: str, start: int, *, lx: People) -> str:
    """A name starting at ``start`` (after a title): 3 characters unless the third ends the name."""
    run = []
    for ch in text[start : start + 4]:
        if ch in _DELIMS or not _CJK.match(ch):
            break
        run.append(ch)
    s = "".join(run)
    cands = [s[:4], s[:3]] if s[:2] in lx.compound_surnames else [s[:3], s[:2]]
    for cand in cands:
        if text.startswith(("先生", "女士", "同志", "老师"), start + len(cand) - 1):
            continue
        if len(cand) >= 2 and _is_name(cand, lx=lx) and _boundary_after(text, start + len(cand), lx=lx):
            return cand
    return ""


def _name_before(text: str, end: int, *, lx: People) -> str:
    """A name ending at ``end`` (just before a title), read backwards."""
    run: list[str] = []
    i = end - 1
    while i >= 0 and len(run) < 4:
        ch = text[i]
        if ch in _DELIMS or not _CJK.match(ch):
            break
        run.append(ch)
        i -= 1
    s = "".join(reversed(run))
    for n in (4, 3, 2):
        cand = s[-n:] if len(s) >= n else ""
        if not cand:
            continue
        if n == 4 and cand[:2] not in lx.compound_surnames:
            continue
        if n == 3 and cand[0] in lx.before_name:
            continue
        if _is_name(cand, reverse=True, lx=lx) and _boundary_before(text, end - n, lx=lx):
            return cand
    return ""


_SOFT_CUT = ("和", "与", "及")  # inside names of organisations too: 信息与通信工程学院


def _segment_before(text: str, end: int, limit: int = 30, *, lx: People) -> str:
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


def _bylines(text: str, lx: People) -> set[str]:
    """Names of journalists, editors, photographers: never talents."""
    out: set[str] = set()
    for m in lx.byline_re.finditer(text):
        for part in re.split(r"[\s、，,/]+", m.group(1)):
            if len(part) >= 2:
                out.update((part[:4], part[:3], part[:2]))
    return out


_AWARD = re.compile(r"(?:荣获|获得|获评|获|当选|入选)")
_NAMED_BY_ORG = re.compile(r"研究所|研究院|科学院|实验室|研究中心|研究部|大学|学院")
_EXPERT_SAYS = re.compile(r"(?:却|也|则|还|曾)?(?:撰文|指出|认为|分析|表示|解释|介绍说|建议|强调)")
_WORKS_AT = re.compile(
    r"([\u4e00-\u9fff]{2,3})(?:已|曾|现|一直|长期)?在"
    r"([\u4e00-\u9fff]{2,24}?(?:大学|学院|研究所|研究院|科学院|实验室|研究中心)[\u4e00-\u9fff]{0,8}?)"
    r"(?:任教|执教|任研究员|从事[\u4e00-\u9fff]{0,12}研究)"
)
_WORKS_AT_WORDS = ("任教", "执教", "任研究员", "从事")
_CITED = re.compile(r"\[[JMCDR]\]")
_CITATION = re.compile(
    r"(?:^|[\n：:；;。\s])((?:[\u4e00-\u9fff]{2,3}[,，、])*[\u4e00-\u9fff]{2,3})(?:等)?[.．]\s*"
    r"[^\n\[\]]{4,80}\[[JMCDR]\]"
)


def extract_talents(text: str, title: str = "", lexicon: People | None = None) -> list[Talent]:
    """Persons presented as scientists, engineers or experts, in order of first mention, one per name."""
    lx = lexicon or load_people()
    full = f"{title}\n{text}" if title else text
    excluded = _bylines(full, lx)
    found: dict[str, Talent] = {}

    def add(name: str, word: str, seg: str) -> None:
        if not name or name in excluded:
            return
        org, pos = _org_and_position(seg)
        if word in lx.positions and not (org and _RESEARCH_ORG.search(org)):
            return  # 院长/主任 without a research organisation: an administrative role, not a talent
        if word in lx.business_positions and not any(t in pos for t in lx.titles):
            return  # a company's 董事长 is an expert only with a technical title (首席技术官, 总工程师)
        pos = pos.strip("、，, ") if org or pos.endswith(("院士", "科学院", "工程院")) else ""
        if pos and (len(pos) > 16 or _is_name(pos, lx=lx)):
            pos = ""
        if word in lx.positions or word in lx.business_positions or pos.endswith(("科学院", "工程院")):
            full_title = pos + word
        else:
            full_title = "、".join(p for p in (word, pos) if p)
        prev = found.get(name)
        if prev is None:
            found[name] = Talent(name, full_title, org)
        else:
            if not prev.affiliation and org:
                prev.affiliation = org
            if word and word not in prev.title:
                prev.title = "、".join(p for p in (prev.title, word) if p)

    for m in lx.title_re.finditer(full):
        word = m.group(0)
        # title then name: 中国工程院院士王小谟, 研究员朱巍认为
        after = _name_after(full, m.end(), lx=lx)
        if after:
            add(after, word, _segment_before(full, m.start(), lx=lx))
        # name then title: 王小云院士, 南京大学黄贤金教授
        if word in lx.titles and word != "讲座教授":  # 杨振宁讲座教授 names a chair
            before = _name_before(full, m.start(), lx=lx)
            if before:
                add(before, word, _segment_before(full, m.start() - len(before), lx=lx))
    orgs = list(_ORG_SUFFIX.finditer(full))
    # an award to a researcher of an institute: 北京生命科学研究所邵峰荣获
    for m in orgs:
        if not re.match(r"研究所|研究院|科学院|实验室|研究中心|大学|学院", m.group(0)):
            continue
        for n in (2, 3):
            name = full[m.end() : m.end() + n]
            if (
                _is_name(name, lx=lx)
                and _AWARD.match(full, m.end() + n)
                and _boundary_before(full, m.end(), lx=lx)
            ):
                add(name, "", _segment_before(full, m.end(), lx=lx))
                break
    # a researcher of an institute in an award list (…研究所王贻芳、…教授陆锦标获…奖) or speaking as its
    # expert (…研究中心技术经济研究部的郭励弘却撰文指出)
    for m in orgs:
        if not _NAMED_BY_ORG.match(m.group(0)) or not _boundary_before(full, m.end(), lx=lx):
            continue
        start = m.end() + (1 if full.startswith("的", m.end()) else 0)
        for n in (3, 2):
            name = full[start : start + n]
            if not _is_name(name, reverse=n == 2, lx=lx):
                continue
            clause = full[start + n : start + n + 40].split("。", 1)[0]
            listed = full[start + n : start + n + 1] in "、，," and bool(_AWARD.search(clause))
            if listed or _EXPERT_SAYS.match(full, start + n):
                add(name, "", _segment_before(full, m.end(), lx=lx))
                break
    # teaching or doing research at a university or institute: 季羡林已在北京大学东方语文系任教
    for m in _WORKS_AT.finditer(full) if any(w in full for w in _WORKS_AT_WORDS) else ():
        name = m.group(1)
        if _is_name(name, reverse=True, lx=lx) and _boundary_before(full, m.start(1), lx=lx):
            org, _ = _org_and_position(m.group(2))
            add(name, "", org if org else "")
    # the author of a cited paper: 赵培. 淘宝网物流配送存在的问题及对策研究[J]
    for m in _CITATION.finditer(full) if _CITED.search(full) else ():
        for name in re.split(r"[,，、]", m.group(1)):
            if _is_name(name, reverse=True, lx=lx):
                add(name, "", "")
    # a bio: 李金泽，男，1965年生
    for m in re.finditer(r"(?:^|[\n。：:])\s*([\u4e00-\u9fff]{2,4})[，,]\s*[男女][，,]", full):
        if _is_name(m.group(1), reverse=True, lx=lx):
            words = [w.group(0) for w in lx.title_re.finditer(full, m.end(), m.end() + 60)]
            add(m.group(1), "、".join(dict.fromkeys(w for w in words if w in lx.titles)), "")
    return [t for t in found.values() if t.name not in excluded]
