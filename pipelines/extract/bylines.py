"""Chinese bylines: 来源 (outlet), 作者/记者/文 (author), 责任编辑 (editor), in every common layout.

Layouts handled: ``来源：人民网  作者：张三``, ``【来源：新华社】``, ``(记者 孙自法)``, ``本报记者 王五``,
``文/李四``, ``(责编：程宏毅)``, ``编辑：赵六``, traditional script (``來源``, ``責編``), and labels spaced out
(``来 源``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pipelines.extract.boilerplate import WIDGETS
from pipelines.extract.chars import CJK
from pipelines.zhre import zh

# a value ends at two spaces, a separator, a bracket or the next label
_STOP = zh(
    r"(?=\s{2,}|\n|\s*[|｜/]\s|[)）】\]<]|\s*[(（【\[,，。;；]|\s+(?:作\s*者|记\s*者|编\s*辑|责\s*编|责任编辑|来\s*源|发布|时\s*间|日\s*期|浏览|点击|阅读|"
    r"字号|访问|编辑|审核|校对|通讯员|摄影|出处|分享)|\s*\d{4}\s*[-年/.]|$)"
)
_OUTLET_RE = re.compile(
    zh(r"(?:来\s*源|出\s*处|稿\s*源|转\s*自|转载自|Source)\s*[:：]\s*")
    + r"([^\s:：|｜]{2,30}?(?:\s[^\s:：|｜]{1,12}?)?)"
    + _STOP,
    re.I,
)
_AUTHOR_RE = re.compile(
    zh(
        r"(?:(?:作\s*者|撰\s*稿|撰\s*文)\s*[:：/／]\s*|作\s*者\s+|(?<![\u4e00-\u9fff])文\s*[/／]\s*|(?:Author|By)\s*[:：]?\s+)"
    )
    + r"([^\s:：|｜,，。=\"'<>]{2,20}(?:[ 、,，]+[^\s:：|｜,，。\d]{2,4}){0,4}?)"
    + _STOP,
    re.I,
)
_REPORTER_RE = re.compile(
    zh(
        r"(?:(?:本报|本刊|本网|新华社|中新社|中新网|央视网|人民网|新华网)(?:特约|实习|首席)?记\s*者\s*[:：]?\s*|"
        r"(?:特约|实习|首席)?记\s*者\s*[:：]\s*|记\s*者\s+)"
    )
    + r"([\u4e00-\u9fff·]{2,4}(?:[ 、,，]+(?!通讯|摄影|报道|实习|編輯|编辑)[\u4e00-\u9fff·]{2,4}){0,4})"
    + r"(?=[)）\s,，。/]|$|[通报摄])"
)
_EDITOR_RE = re.compile(
    zh(r"(?:责\s*任\s*编\s*辑|责\s*编|编\s*辑|值班编辑|Editor)\s*[:：]\s*")
    + r"([^\s:：|｜)）】\]]{2,20}(?:[ 、,，]+[^\s:：|｜)）】\]\d]{2,4}){0,3}?)"
    + _STOP,
    re.I,
)
_JUNK_VALUE = re.compile(zh(r"^(?:本站|本网|未知|佚名|admin|网络|互联网|不详|原创|转载|http)"), re.I)
# what a CMS writes where a byline should be: account names, form placeholders, widget vendors
_NOT_A_PERSON = re.compile(
    zh(
        r"^(?:系统管理员|超级管理员|网站管理员|管理员|系统|admin(?:istrator)?|webmaster|root|editor|发布者|小编|匿名|游客|"
        r"guest|user|name|test|taboola|outbrain)\d*$"
    ),
    re.I,
)
_CMS_ID = re.compile(r"_[A-Za-z]{1,6}\d{2,}$")  # 史建磊_NBJ11331: the editor's account id
_ROLE = zh(r"(?:专栏作者|特约作者|特约撰稿人|特约评论员|评论员|首席记者|特约记者|记者|通讯员)")
# the end of an outlet's name: a second word after it is page furniture ("新京报 举报", "新华网 新华网黑龙江频道")
_OUTLET_END = re.compile(zh(r"(?:网|报|社|台|刊|站|号|频道|客户端|新闻|杂志|在线|时报|日报|晚报|周刊)$"))


@dataclass
class Byline:
    outlet: str = ""
    author: str = ""
    editor: str = ""


def _clean(value: str) -> str:
    value = value.strip(" \u3000\t-—_:：,，、.。;；")
    return re.sub(r"\s+", " ", value)


def clean_outlet(value: str) -> str:
    """An outlet's name without the page furniture glued to it; "" when it names no outlet."""
    value = re.sub(r"\s+", " ", value).strip(" \u3000\t-—_:：,，、。;；")
    widget = WIDGETS.search(value)
    if widget:
        value = _clean(value[: widget.start()])
    words = value.split(" ")
    if (
        len(words) > 1
        and CJK.search(words[0])
        and (_OUTLET_END.search(words[0]) or len(words[-1]) < 3 or not _OUTLET_END.search(words[-1]))
    ):
        value = words[0]  # "新京报 举报", "中国地理学会 大会开幕式"; "人民网 人民日报" keeps both
    if len(value) < 2 or re.search(r"[=\"<>@]", value) or _JUNK_VALUE.match(value):
        return ""
    return value


def clean_author(value: str) -> str:
    """A person's name (or names) from a byline value; "" for CMS account names and placeholders."""
    value = _clean(value).strip("【】[]()（）")
    role = re.search(_ROLE + r"\s+(\S{2,8})$", value)
    if role:  # 观察者网专栏作者 王文 → 王文
        value = role.group(1)
    value = _CMS_ID.sub("", value)
    if not value or re.search(r"[=\"<>@]", value) or _JUNK_VALUE.match(value) or _NOT_A_PERSON.match(value):
        return ""
    if sum(ch.isdigit() for ch in value) > len(value) / 2 or value[0].isdigit():
        return ""
    return value


def has_credit(text: str) -> bool:
    """Whether the text carries a source or editor credit (来源：…, 责任编辑：…), whatever its value."""
    return bool(_OUTLET_RE.search(text) or _EDITOR_RE.search(text))


def find_outlet(text: str) -> str:
    m = _OUTLET_RE.search(text)
    return clean_outlet(m.group(1)) if m else ""


def find_author(text: str) -> str:
    for pattern in (_AUTHOR_RE, _REPORTER_RE):
        m = pattern.search(text)
        if m:
            value = clean_author(m.group(1))
            if value:
                return value
    return ""


def find_editor(text: str) -> str:
    m = _EDITOR_RE.search(text)
    return clean_author(m.group(1)) if m else ""


def parse_byline(text: str) -> Byline:
    """Outlet, author and editor named in a byline-like text (any of them may be empty)."""
    return Byline(outlet=find_outlet(text), author=find_author(text), editor=find_editor(text))
