"""The people lexicon: surnames, titles, roles and the words that are not names, read from
``pipelines/data/people.yaml`` (or a deployment's copy) and compiled into the matchers talent extraction uses."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from pipelines.wordlists import chars, data_file, known_keys, load_wordlists, mapping, words

SHIPPED_PEOPLE = data_file("people.yaml")

_KEYS = {
    "version",
    "surnames",
    "compound_surnames",
    "titles",
    "positions",
    "business_positions",
    "byline_roles",
    "not_names",
    "after_name",
    "not_third",
    "before_name",
    "not_in_name",
    "cut_words",
    "affiliation_aliases",
    "speech_verbs",
    "list_cues",
    "team_words",
    "honorifics",
}


@dataclass(frozen=True)
class People:
    """The compiled lexicon."""

    path: str
    surnames: frozenset[str]
    compound_surnames: tuple[str, ...]
    titles: tuple[str, ...]
    positions: tuple[str, ...]
    business_positions: tuple[str, ...]
    byline_roles: tuple[str, ...]
    not_names: frozenset[str]
    after_name: frozenset[str]
    not_third: frozenset[str]
    before_name: frozenset[str]
    not_in_name: frozenset[str]
    cut_words: tuple[str, ...]
    affiliation_aliases: dict[str, str]
    speech_verbs: tuple[str, ...]
    list_cues: tuple[str, ...]
    team_words: tuple[str, ...]
    honorifics: tuple[str, ...]
    all_titles: tuple[str, ...]  # titles, positions and business positions, longest first
    title_re: re.Pattern[str]
    byline_re: re.Pattern[str]


def _alt(items: tuple[str, ...] | list[str]) -> str:
    return "|".join(re.escape(w) for w in sorted(set(items), key=len, reverse=True))


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
    surnames = data.get("surnames") or ""
    titles = words(data, "titles", p)
    positions = words(data, "positions", p)
    business = words(data, "business_positions", p)
    byline = words(data, "byline_roles", p)
    all_titles = tuple(sorted(set(titles + positions + business), key=len, reverse=True))
    people = People(
        path=key,
        surnames=chars({"surnames": surnames}, "surnames", p),
        compound_surnames=words(data, "compound_surnames", p),
        titles=titles,
        positions=positions,
        business_positions=business,
        byline_roles=byline,
        not_names=frozenset(words(data, "not_names", p)),
        after_name=chars(data, "after_name", p),
        not_third=chars(data, "not_third", p),
        before_name=chars(data, "before_name", p),
        not_in_name=chars(data, "not_in_name", p),
        cut_words=words(data, "cut_words", p),
        affiliation_aliases=mapping(data, "affiliation_aliases", p),
        speech_verbs=words(data, "speech_verbs", p),
        list_cues=words(data, "list_cues", p),
        team_words=words(data, "team_words", p),
        honorifics=words(data, "honorifics", p),
        all_titles=all_titles,
        title_re=re.compile(_alt(all_titles)) if all_titles else re.compile(r"(?!x)x"),
        byline_re=re.compile(
            rf"(?:{_alt(byline)})\s*[：:]?\s*((?:[\u4e00-\u9fff]{{2,4}}[\s、，,/]*){{1,6}})"
            if byline
            else r"(?!x)x"
        ),
    )
    _CACHE[key] = (mtime, people)
    return people
