"""Regular expressions that match Chinese words in both simplified and traditional script.

``zh(r"来源[：:]")`` turns each Chinese character into a class holding its simplified and traditional forms
(``[来來]源[：:]``), so one pattern covers mainland and Hong Kong/Taiwan pages.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any


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


# -- compiling for speed -----------------------------------------------------------------------------------------
# Python's regex engine tries an alternation of words at every position of a text. When the words start with
# character classes (what zh() makes of every Chinese character), it has no quick scan for the first character
# and a search over a page of prose is 5-10x slower than it needs to be. A look-ahead on the set of characters a
# match can start with lets it reject a position with one test.

def _first_of(items: Any) -> tuple[list[str], bool] | None:
    """(class parts a match of ``items`` can start with, whether it can match nothing); None when unknown."""
    from re import _constants as c  # type: ignore[attr-defined]

    parts: list[str] = []
    for op, av in items:
        if op is c.LITERAL:
            parts.append(_class_char(av))
            return parts, False
        if op is c.IN:
            for iop, iav in av:
                if iop is c.LITERAL:
                    parts.append(_class_char(iav))
                elif iop is c.RANGE:
                    parts.append(_class_char(iav[0]) + "-" + _class_char(iav[1]))
                else:  # a negated class or a category (\s, \w): too wide to help
                    return None
            return parts, False
        if op is c.AT or op is c.ASSERT or op is c.ASSERT_NOT:
            continue  # zero-width: what it allows is a subset of what comes next
        if op is c.BRANCH:
            nullable = False
            for alt in av[1]:
                got = _first_of(alt)
                if got is None:
                    return None
                parts.extend(got[0])
                nullable = nullable or got[1]
            if not nullable:
                return parts, False
            continue
        if op is c.SUBPATTERN:
            _group, add_flags, _del_flags, sub = av
            if add_flags & re.IGNORECASE:
                return None
            got = _first_of(sub)
        elif op in (c.MAX_REPEAT, c.MIN_REPEAT, c.POSSESSIVE_REPEAT):
            lo, _hi, sub = av
            got = _first_of(sub)
            if got is not None and lo == 0:
                got = (got[0], True)
        elif op is c.ATOMIC_GROUP:
            got = _first_of(av)
        else:  # any character, a back-reference, a conditional …
            return None
        if got is None:
            return None
        parts.extend(got[0])
        if not got[1]:
            return parts, False
    return parts, True


def _class_char(code: int) -> str:
    ch = chr(code)
    return "\\" + ch if ch in "\\]^-[" else ch


def _opens_with_alternation(items: Any) -> bool:
    """Whether the first thing a match does is try alternatives (zero-width assertions and groups looked through)."""
    from re import _constants as c  # type: ignore[attr-defined]

    for op, av in items:
        if op is c.AT or op is c.ASSERT or op is c.ASSERT_NOT:
            continue
        if op is c.SUBPATTERN:
            return _opens_with_alternation(av[3])
        return op is c.BRANCH
    return False


def _first_class(parsed: Any, flags: int) -> str | None:
    """The class of first characters of a parsed pattern (see :func:`first_chars`)."""
    if (flags | parsed.state.flags) & (re.IGNORECASE | re.VERBOSE):
        return None
    got = _first_of(parsed)
    if got is None or got[1] or not got[0]:
        return None
    return "[" + "".join(dict.fromkeys(got[0])) + "]"


def first_chars(pattern: str, flags: int = 0) -> str | None:
    """A character class (``[...]``) holding every character a match of ``pattern`` can start with; None when
    that is not known (a match may be empty, start with any character, or ignore case)."""
    from re import _parser  # type: ignore[attr-defined]

    return _first_class(_parser.parse(pattern, flags), flags)


def fast(pattern: str, flags: int = 0) -> re.Pattern[str]:
    """``re.compile(pattern, flags)``, and for an alternation whose branches open with character classes (which
    the engine would try one by one at every position) a look-ahead on the characters a match can start with,
    so that most positions are rejected with one test. The matches are the same."""
    plain = re.compile(pattern, flags)
    if pattern.startswith("(?") and pattern[2:3].isalpha():
        return plain  # global inline flags must open the pattern
    try:  # the engine's own parser (Python 3.11+); another version's internals: the plain pattern
        from re import _compiler, _parser  # type: ignore[attr-defined]

        parsed = _parser.parse(pattern, flags)
        if not _opens_with_alternation(parsed) or _compiler._get_charset_prefix(parsed, plain.flags) is not None:
            return plain  # the engine scans for the first character itself
        first = _first_class(parsed, flags)
    except (ImportError, AttributeError, TypeError, ValueError):
        return plain
    if first is None:
        return plain
    return re.compile(f"(?={first})(?:{pattern})", flags)
