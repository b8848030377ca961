"""The people lexicon: surnames, titles, roles and the words that are not names, read from
``pipelines/data/people.yaml`` (or a deployment's copy) and compiled into the matchers talent extraction uses.

Besides this file, names are checked against jieba's dictionary (shipped with jieba): a candidate that is a
common word of another part of speech (方面, 高度, 成就) is no name."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from core.errors import ConfigError
from pipelines.segment import is_name_word, word_frequency
from pipelines.wordlists import chars, data_file, known_keys, load_wordlists, mapping, words

SHIPPED_PEOPLE = data_file("people.yaml")

_KEYS = {
    "version",
    "surnames",
    "rare_surnames",
    "compound_surnames",
    "titles",
    "positions",
    "business_positions",
    "byline_roles",
    "team_words",
    "list_cues",
    "speech_verbs",
    "honorifics",
    "not_names",
    "after_name",
    "not_third",
    "before_name",
    "not_in_name",
    "cut_words",
    "affiliation_aliases",
    "disciplines",
    "title_continuations",
}


@dataclass(frozen=True)
class People:
    """The compiled lexicon."""

    path: str
    surnames: frozenset[str]
    rare_surnames: frozenset[str]
    compound_surnames: tuple[str, ...]
    titles: tuple[str, ...]
    positions: tuple[str, ...]
    business_positions: tuple[str, ...]
    byline_roles: tuple[str, ...]
    team_words: tuple[str, ...]
    list_cues: tuple[str, ...]
    speech_verbs: tuple[str, ...]
    honorifics: tuple[str, ...]
    not_names: frozenset[str]
    after_name: frozenset[str]
    not_third: frozenset[str]
    before_name: frozenset[str]
    not_in_name: frozenset[str]
    cut_words: tuple[str, ...]
    affiliation_aliases: dict[str, str]
    disciplines: dict[str, tuple[str, ...]]
    title_continuations: tuple[str, ...]
    all_titles: tuple[str, ...]  # titles, positions and business positions, longest first
    title_re: re.Pattern[str]
    byline_re: re.Pattern[str]
    team_re: re.Pattern[str]
    list_re: re.Pattern[str]
    speech_re: re.Pattern[str]


def _alt(items: tuple[str, ...] | list[str]) -> str:
    return "|".join(re.escape(w) for w in sorted(set(items), key=len, reverse=True))


def _re(items: tuple[str, ...], template: str = "{}") -> re.Pattern[str]:
    return re.compile(template.format(_alt(items))) if items else re.compile(r"(?!x)x")


_CACHE: dict[str, tuple[int, People]] = {}


def load_people(path: str | os.PathLike[str] | None = None) -> People:
    """The people lexicon at ``path`` (default: the shipped one), compiled once per version of the file."""
    p = Path(path) if path else SHIPPED_PEOPLE
    data, mtime = load_wordlists(p)
    key = str(p)
    hit = _CACHE.get(key)
    if hit and hit[0] == mtime:
        return hit[1]
    known_keys(data, _KEYS, p)
    titles = words(data, "titles", p)
    positions = words(data, "positions", p)
    business = words(data, "business_positions", p)
    byline = words(data, "byline_roles", p)
    all_titles = tuple(sorted(set(titles + positions + business), key=len, reverse=True))
    disciplines_raw = data.get("disciplines") or {}
    if not isinstance(disciplines_raw, dict):
        raise ConfigError(f"{p}: key 'disciplines': expected a mapping of domain to words")
    disciplines = {str(d): words(disciplines_raw, d, p) for d in disciplines_raw}
    people = People(
        path=key,
        surnames=chars(data, "surnames", p),
        rare_surnames=chars(data, "rare_surnames", p),
        compound_surnames=words(data, "compound_surnames", p),
        titles=titles,
        positions=positions,
        business_positions=business,
        byline_roles=byline,
        team_words=words(data, "team_words", p),
        list_cues=words(data, "list_cues", p),
        speech_verbs=words(data, "speech_verbs", p),
        honorifics=words(data, "honorifics", p),
        not_names=frozenset(words(data, "not_names", p)),
        after_name=chars(data, "after_name", p),
        not_third=chars(data, "not_third", p),
        before_name=chars(data, "before_name", p),
        not_in_name=chars(data, "not_in_name", p),
        cut_words=words(data, "cut_words", p),
        affiliation_aliases=mapping(data, "affiliation_aliases", p),
        disciplines=disciplines,
        title_continuations=words(data, "title_continuations", p),
        all_titles=all_titles,
        title_re=_re(all_titles),
        byline_re=_re(
            byline,
            r"(?:(?:{})\s*[：:]\s*|(?:记者|通讯员|实习生|责编|编辑|摄影|摄像|撰稿)\s*)"
            r"((?:[\u4e00-\u9fff]{{2,4}}[ \t、，,/]*){{1,6}})",
        ),
        team_re=_re(words(data, "team_words", p)),
        list_re=_re(words(data, "list_cues", p)),
        speech_re=_re(words(data, "speech_verbs", p)),
    )
    _CACHE[key] = (mtime, people)
    return people


__all__ = ["People", "is_name_word", "load_people", "word_frequency"]
