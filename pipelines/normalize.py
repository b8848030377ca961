"""Normalisation of Chinese text for search: simplified script, no pinyin annotations, normalised width/space.

The display text keeps what the page said; only ``search_title``/``search_text`` are normalised.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from typing import Any

from core.items import Article

_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
# a CJK character followed by a parenthesised pinyin syllable: 為(wei) 協(xié) 發（fā）
_PINYIN_ANNOTATION = re.compile(
    rf"(?<=[{_CJK}])[(（]\s*(?=[a-zāáǎàēéěèīíǐìōóǒòūúǔùǖǘǚǜüńňḿ]*[aeiouvüāáǎàēéěèīíǐìōóǒòūúǔùǖǘǚǜ])"
    rf"[a-zāáǎàēéěèīíǐìōóǒòūúǔùǖǘǚǜüńňḿ]{{1,6}}[1-5]?\s*[)）](?:[ \u3000](?=[{_CJK}]))?"
)
# runs of text without the full-width punctuation of Chinese (U+FF01-FF0F, FF1A-FF20, FF3B-FF40, FF5B-FF60)
_NOT_CJK_PUNCT = re.compile(r"[^\uff01-\uff0f\uff1a-\uff20\uff3b-\uff40\uff5b-\uff60]+")
_SPACES = re.compile(r"[ \t\u00a0\u3000\u200b\u200c\u200d\ufeff]+")
_BLANK_LINES = re.compile(r"\n\s*\n+")


@lru_cache(maxsize=1)
def _t2s() -> Any:
    import opencc

    return opencc.OpenCC("t2s")


def to_simplified(text: str) -> str:
    """Traditional → simplified Chinese (OpenCC ``t2s``); other text is unchanged."""
    if not text:
        return text
    return str(_t2s().convert(text))


def strip_pinyin_annotations(text: str) -> str:
    """Remove pinyin annotations after Chinese characters: ``為(wei)`` → ``為``."""
    return _PINYIN_ANNOTATION.sub("", text)


def _nfkc(m: re.Match[str]) -> str:
    return unicodedata.normalize("NFKC", m.group(0))


def normalize_width(text: str) -> str:
    """Full-width letters and digits → half-width and compatibility forms folded (NFKC), odd spaces → plain
    spaces; Chinese full-width punctuation (，：；！？（）) stays as the page wrote it.

    Search and dedup ignore punctuation, so folding it gains nothing, while snippets are cut from this text:
    "科技，创新" must not be shown as "科技,创新".
    """
    return _SPACES.sub(" ", _NOT_CJK_PUNCT.sub(_nfkc, text))


def normalize_text(text: str) -> str:
    """The search form of a text: NFKC width, no pinyin annotations, simplified script, tidy whitespace."""
    if not text:
        return ""
    text = normalize_width(text)
    text = strip_pinyin_annotations(text)
    text = to_simplified(text)
    lines = [line.strip() for line in text.split("\n")]
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()


def normalize_article(article: Article) -> Article:
    article.search_title = normalize_text(article.title)
    article.search_text = normalize_text(article.text)
    if article.search_text != article.text.strip() and "simplified" not in article.repairs:
        if to_simplified(article.text) != article.text:
            article.repairs.append("simplified")
        if strip_pinyin_annotations(article.text) != article.text:
            article.repairs.append("pinyin-removed")
    return article


class NormalizePipeline:
    """Fills ``search_title`` and ``search_text``."""

    def process_item(self, item: Any) -> Any:
        if isinstance(item, Article):
            normalize_article(item)
        return item
