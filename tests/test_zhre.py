"""pipelines.zhre: patterns in both scripts, and ``fast``, which must find exactly what ``re.compile`` finds."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from pipelines import spam
from pipelines.zhre import fast, first_chars, zh

REPO = Path(__file__).resolve().parent.parent
CORPUS = Path(os.environ.get("TECHSCOUT_CORPUS", REPO.parent / "shared" / "corpus"))

PATTERNS = [
    zh(r"(?:百家乐|老虎机|时时彩|北京赛车|赌场|网上赌|体育投注)"),
    zh(r"(?:来源|出处)[：:]\s*(\S{2,20})"),
    r"(?<![A-Za-z0-9])([A-Za-z]{1,6}(?:365|888|188)(?:\.(?:com|net))?|[A-Za-z0-9]{2,12}\.(?:vip|cc|top))(?![A-Za-z0-9])",
    zh(r"(?:[一-龥]{2}\s*(?:体育|娱乐)\s*(?:官网|入口)|发布(?:时间|日期)?[：:])"),
    r"(?:a|b)?c",  # can start with a, b or c
    r"x*",  # can match nothing: left as it is
    r"(?i)(?:发布|来源)",  # global flags: left as it is
    spam._GAMBLING.pattern,
]


def _texts() -> list[str]:
    pages = sorted((CORPUS / "web-zh").glob("*/*.html"))[:30]
    texts = [p.read_bytes().decode("utf-8", "replace") for p in pages]
    texts += [
        "推出星空体育官网入口网站服务，开云体育app下载", "發布時間：2021-01-19 來源：科技日報", "访问 abc888.com 或 xyz.vip",
        "北京賽車與時時彩", "", "c", "bc ac c",
    ]
    return texts


@pytest.mark.parametrize("pattern", PATTERNS)
def test_fast_finds_what_re_finds(pattern: str) -> None:
    plain, quick = re.compile(pattern), fast(pattern)
    for text in _texts():
        assert [m.span() for m in quick.finditer(text)] == [m.span() for m in plain.finditer(text)]
        assert [m.groups() for m in quick.finditer(text)] == [m.groups() for m in plain.finditer(text)]


def test_first_characters_of_an_alternation() -> None:
    assert first_chars(zh("(?:时时彩|赌场)")) == "[时時赌賭]"
    assert first_chars(r"(?:a|b)?c") == "[abc]"
    assert first_chars(r"x*") is None  # may match nothing
    assert first_chars(r".abc") is None  # any character
    assert first_chars(r"\w+") is None  # a category: too wide to help


def test_fast_adds_the_look_ahead_only_where_the_engine_lacks_a_quick_scan() -> None:
    assert fast(zh("(?:时时彩|赌场)")).pattern.startswith("(?=[")  # branches open with classes
    assert fast("(?:abc|abd|x)").pattern == "(?:abc|abd|x)"  # literal openings: the engine scans for them
    assert fast(r"(?i)(?:发布|来源)").pattern == r"(?i)(?:发布|来源)"
