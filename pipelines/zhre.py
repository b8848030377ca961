"""Regular expressions that match Chinese words in both simplified and traditional script.

``zh(r"来源[：:]")`` turns each Chinese character into a class holding its simplified and traditional forms
(``[来來]源[：:]``), so one pattern covers mainland and Hong Kong/Taiwan pages.
"""

from __future__ import annotations

import re
from functools import lru_cache


@lru_cache(maxsize=1)
def _s2t() -> object:
    import opencc

    return opencc.OpenCC("s2t")


def _variants(ch: str) -> str:
    conv = _s2t()
    trad = str(conv.convert(ch))  # type: ignore[attr-defined]
    extra = {
        "布": "佈",
        "发": "發髮",
        "于": "於",
        "台": "臺",
        "里": "裏",
        "面": "麵",
        "制": "製",
        "系": "係繫",
    }
    out = ch
    for c in trad + extra.get(ch, ""):
        if c not in out:
            out += c
    return out


def zh(pattern: str) -> str:
    """Expand every CJK character of a regex pattern to its simplified/traditional pair."""
    out: list[str] = []
    in_class = False
    escaped = False
    for ch in pattern:
        if escaped:
            out.append(ch)
            escaped = False
            continue
        if ch == "\\":
            out.append(ch)
            escaped = True
            continue
        if ch == "[" and not in_class:
            in_class = True
            out.append(ch)
            continue
        if ch == "]" and in_class:
            in_class = False
            out.append(ch)
            continue
        if "\u4e00" <= ch <= "\u9fff":
            v = _variants(ch)
            out.append(v if in_class else (f"[{v}]" if len(v) > 1 else v))
        else:
            out.append(ch)
    return "".join(out)


def zc(pattern: str, flags: int = 0) -> re.Pattern[str]:
    """``re.compile(zh(pattern))``."""
    return re.compile(zh(pattern), flags)
