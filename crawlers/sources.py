"""Source configuration: one YAML file per source, validated with errors that name the file and the key.

Only ``name`` and ``start_urls`` are required. Every key is declared in :data:`SOURCE_KEYS` (type, default,
meaning); the README's source table is checked against it by a test.

:func:`read_sources` reads a directory file by file: a bad file is reported (its :class:`SourceError` names the
file and the key) and every other source is still returned, so one typo never stops the other sources.
:func:`sources_path_for` is where a data directory's sources are: the ``sources`` setting when given, else the
directory the data directory remembers (``<data>/sources.json``, written by ``run`` and ``crawl``), else the
shipped sources.
"""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import yaml

from core import clock
from core.errors import SourceError
from core.schedule import parse_schedule
from core.settings import SHIPPED_SOURCES

if TYPE_CHECKING:
    from core.settings import Settings

CONTENT_TYPES = ("policy", "news", "achievement", "demand", "talent", "event", "other")
SELECTOR_KEYS = ("links", "next_page", "title", "body", "date", "author")
_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")


@dataclass(frozen=True)
class SourceKey:
    name: str
    types: tuple[type, ...]
    default: Any
    doc: str
    required: bool = False


SOURCE_KEYS: tuple[SourceKey, ...] = (
    SourceKey("name", (str,), None, "Unique id of the source: lower-case letters, digits, `-`, `_`, `.`.", True),
    SourceKey("start_urls", (list, str), None, "List pages, RSS/Atom feeds or sitemaps to start from.", True),
    SourceKey("title", (str,), "", "Human-readable name shown to staff (e.g. 中国科协 · 要闻)."),
    SourceKey("content_type", (str,), "", "Hint for the classifier: " + ", ".join(CONTENT_TYPES) + "."),
    SourceKey("region", (str,), "", "Hint: the province-level region the source covers (e.g. 陕西省, 全国)."),
    SourceKey("domains", (list,), [], "Hint: tech domains the source covers."),
    SourceKey("schedule", (str,), "", "Cron expression (`0 */2 * * *`) or interval (`every 30m`); default from settings."),
    SourceKey("allowed_domains", (list,), [], "Hosts the crawl may visit (default: the hosts of `start_urls`)."),
    SourceKey("allow", (list,), [], "Regular expressions: only URLs matching one of them are followed."),
    SourceKey("deny", (list,), [], "Regular expressions: URLs matching one of them are never followed."),
    SourceKey("max_pages", (int,), None, "Bound on pages fetched per crawl (default from settings)."),
    SourceKey("max_list_pages", (int,), 30, "Bound on list pages (pagination) read per crawl."),
    SourceKey(
        "follow_sections",
        (bool,),
        None,
        "Also read the start page's channel links (only those that are lists): `true` always, `false` never; "
        "default: only when the start page has no list of its own (a home page).",
    ),
    SourceKey("delay", (int, float), None, "Seconds between requests to this site (default from settings)."),
    SourceKey("concurrency", (int,), None, "Concurrent requests to this site (default from settings)."),
    SourceKey("render_js", (bool,), False, "Render pages in headless Chromium (lists built by JavaScript)."),
    SourceKey("selectors", (dict,), {}, "CSS selectors when detection is not enough: " + ", ".join(SELECTOR_KEYS) + "."),
    SourceKey("enabled", (bool,), True, "Set to false to keep the file but not crawl the source."),
    SourceKey("notes", (str,), "", "Free text for staff (e.g. reachability, what the source publishes)."),
)
_KEYS = {k.name: k for k in SOURCE_KEYS}


@dataclass
class Source:
    name: str
    start_urls: list[str]
    path: str = ""
    title: str = ""
    content_type: str = ""
    region: str = ""
    domains: list[str] = field(default_factory=list)
    schedule: str = ""
    allowed_domains: list[str] = field(default_factory=list)
    allow: list[str] = field(default_factory=list)
    deny: list[str] = field(default_factory=list)
    max_pages: int | None = None
    max_list_pages: int = 30
    follow_sections: bool | None = None  # None: only when the start page has no list of its own
    delay: float | None = None
    concurrency: int | None = None
    render_js: bool = False
    selectors: dict[str, str] = field(default_factory=dict)
    enabled: bool = True
    notes: str = ""

    @property
    def hints(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.content_type:
            out["content_type"] = self.content_type
        if self.region:
            out["region"] = self.region
        if self.domains:
            out["domains"] = list(self.domains)
        if self.selectors:
            out["selectors"] = dict(self.selectors)
        return out

    def to_json(self) -> dict[str, Any]:
        return {k.name: getattr(self, k.name) for k in SOURCE_KEYS} | {"path": self.path}


def _type_names(types: tuple[type, ...]) -> str:
    names = {list: "a list", str: "a string", int: "an integer", float: "a number", bool: "true or false", dict: "a mapping"}
    return " or ".join(names.get(t, t.__name__) for t in types)


def source_from_mapping(data: Any, path: str = "<source>") -> Source:
    if not isinstance(data, dict):
        raise SourceError(f"{path}: expected a mapping of keys (name, start_urls, ...), got {type(data).__name__}")
    for key in data:
        if key not in _KEYS:
            close = difflib.get_close_matches(str(key).replace("-", "_").lower(), list(_KEYS), n=1, cutoff=0.75)
            hint = f" (did you mean {close[0]!r}?)" if close else f" (known keys: {', '.join(_KEYS)})"
            raise SourceError(f"{path}: unknown key {key!r}{hint}")
    values: dict[str, Any] = {}
    for spec in SOURCE_KEYS:
        if spec.name not in data or data[spec.name] is None:
            if spec.required:
                raise SourceError(f"{path}: missing required key {spec.name!r} ({spec.doc})")
            continue
        value = data[spec.name]
        if isinstance(value, bool) and bool not in spec.types:
            raise SourceError(f"{path}: key {spec.name!r}: expected {_type_names(spec.types)}, got {value!r}")
        if not isinstance(value, spec.types):
            raise SourceError(f"{path}: key {spec.name!r}: expected {_type_names(spec.types)}, got {value!r}")
        values[spec.name] = value

    name = values["name"]
    if not _NAME.match(name):
        raise SourceError(
            f"{path}: key 'name': expected lower-case letters, digits, '-', '_' or '.', got {name!r}"
        )
    urls = values["start_urls"]
    if isinstance(urls, str):
        urls = [urls]
    if not urls:
        raise SourceError(f"{path}: key 'start_urls': expected at least one URL")
    for i, url in enumerate(urls):
        parts = urlsplit(str(url))
        if not isinstance(url, str) or parts.scheme not in ("http", "https") or not parts.hostname:
            raise SourceError(f"{path}: key 'start_urls[{i}]': expected an http(s) URL, got {url!r}")
    values["start_urls"] = [u.strip() for u in urls]
    for key in ("domains", "allowed_domains", "allow", "deny"):
        for i, item in enumerate(values.get(key, [])):
            if not isinstance(item, str):
                raise SourceError(f"{path}: key '{key}[{i}]': expected a string, got {item!r}")
    for key in ("allow", "deny"):
        for i, pattern in enumerate(values.get(key, [])):
            try:
                re.compile(pattern)
            except re.error as exc:
                raise SourceError(f"{path}: key '{key}[{i}]': invalid regular expression {pattern!r}: {exc}") from None
    ctype = values.get("content_type", "")
    if ctype and ctype not in CONTENT_TYPES:
        raise SourceError(f"{path}: key 'content_type': expected one of {', '.join(CONTENT_TYPES)}, got {ctype!r}")
    if values.get("schedule"):
        try:
            parse_schedule(values["schedule"])
        except ValueError as exc:
            raise SourceError(f"{path}: key 'schedule': {exc}, got {values['schedule']!r}") from None
    for key in ("max_pages", "max_list_pages", "concurrency"):
        if key in values and values[key] < 1:
            raise SourceError(f"{path}: key {key!r}: expected a positive integer, got {values[key]!r}")
    if "delay" in values and values["delay"] < 0:
        raise SourceError(f"{path}: key 'delay': expected a number >= 0, got {values['delay']!r}")
    for key, sel in values.get("selectors", {}).items():
        if key not in SELECTOR_KEYS:
            raise SourceError(f"{path}: key 'selectors.{key}': unknown selector (known: {', '.join(SELECTOR_KEYS)})")
        if not isinstance(sel, str) or not sel.strip():
            raise SourceError(f"{path}: key 'selectors.{key}': expected a CSS selector string, got {sel!r}")
        try:
            from parsel import Selector

            Selector(text="<html></html>").css(sel)
        except Exception as exc:  # cssselect raises several types
            raise SourceError(f"{path}: key 'selectors.{key}': invalid CSS selector {sel!r}: {exc}") from None
    if not values.get("allowed_domains"):
        values["allowed_domains"] = sorted({urlsplit(u).hostname or "" for u in values["start_urls"]})
    return Source(path=path, **values)


def load_source_file(path: Path) -> Source:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise SourceError(f"{path}: not UTF-8 text") from None
    except OSError as exc:
        raise SourceError(f"{path}: cannot read: {exc.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise SourceError(f"{path}:{where} not valid YAML: {getattr(exc, 'problem', exc)}") from None
    return source_from_mapping(data, str(path))


def _source_files(path: Path) -> list[Path]:
    if path.is_dir():
        return sorted([*path.glob("*.yaml"), *path.glob("*.yml")])
    if path.is_file():
        return [path]
    raise SourceError(f"{path}: no such sources directory or file")


@dataclass(frozen=True)
class SourceProblem:
    """A source file that could not be loaded: its path and the error (which names the file and the key)."""

    path: str
    error: SourceError

    def __str__(self) -> str:
        return str(self.error)


def read_sources(path: str | Path, include_disabled: bool = False) -> tuple[list[Source], list[SourceProblem]]:
    """Every valid source in a directory (``*.yaml``/``*.yml``, sorted) or in one file, and one problem per bad
    file. A file whose name is already taken by an earlier file is a bad file too. Raises only when ``path``
    itself does not exist."""
    sources: list[Source] = []
    problems: list[SourceProblem] = []
    seen: dict[str, str] = {}
    for f in _source_files(Path(path)):
        try:
            src = load_source_file(f)
            if src.name in seen:
                raise SourceError(f"{f}: key 'name': {src.name!r} is already used by {seen[src.name]}")
        except SourceError as exc:
            problems.append(SourceProblem(str(f), exc))
            continue
        seen[src.name] = str(f)
        sources.append(src)
    return [s for s in sources if s.enabled or include_disabled], problems


def load_sources(path: str | Path, names: list[str] | None = None, include_disabled: bool = False) -> list[Source]:
    """All sources in a directory or the one in a file; optionally by name. Strict: the first bad file raises
    its :class:`SourceError` (``techscout sources --check``); see :func:`read_sources` for the tolerant read."""
    sources, problems = read_sources(path, include_disabled=True)
    if problems:
        raise problems[0].error
    return select_sources(path, sources, names, include_disabled=include_disabled)


def select_sources(
    path: str | Path, sources: list[Source], names: list[str] | None, include_disabled: bool = False
) -> list[Source]:
    """The named sources (every enabled one when ``names`` is empty); an unknown name is a SourceError."""
    if names:
        known = {s.name for s in sources}
        unknown = [n for n in names if n not in known]
        if unknown:
            raise SourceError(
                f"{path}: no source named {', '.join(map(repr, unknown))} (known: {', '.join(sorted(known))})"
            )
        return [s for s in sources if s.name in names]
    return [s for s in sources if s.enabled or include_disabled]


# -- which sources fill a data directory ---------------------------------------------------------------------------
def remembered_sources(settings: Settings) -> Path | None:
    """The sources path the data directory remembers (``<data>/sources.json``), if it still exists."""
    try:
        data = json.loads(settings.paths.sources_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    value = data.get("sources") if isinstance(data, dict) else None
    if not isinstance(value, str) or not value:
        return None
    path = Path(value)
    return path if path.exists() else None


def sources_path_for(settings: Settings) -> Path:
    """Where the sources of this data directory are: the ``sources`` setting (``--sources``,
    ``TECHSCOUT_SOURCES``, techscout.toml) when given, else what the data directory remembers, else the
    shipped sources."""
    if settings.sources:
        return settings.sources_path
    return remembered_sources(settings) or SHIPPED_SOURCES


def remember_sources(settings: Settings) -> None:
    """Make the data directory remember the sources that fill it (when they were given explicitly)."""
    if not settings.sources:
        return
    path = settings.paths.sources_file
    record = {"sources": str(settings.sources_path.resolve()), "updated": clock.now_iso()}
    try:
        current = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        current = None
    if isinstance(current, dict) and current.get("sources") == record["sources"]:
        return
    settings.paths.ensure()
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(record, ensure_ascii=False), encoding="utf-8")
    tmp.replace(path)
