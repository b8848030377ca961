"""The classification taxonomy: content types, tech domains, regions and relevance vocabulary, read from YAML.

The shipped file is ``pipelines/data/taxonomy.yaml``; a deployment replaces it with the ``taxonomy`` setting
(``TECHSCOUT_TAXONOMY``). :func:`load_taxonomy` validates the file and reports errors as
:class:`~core.errors.ConfigError` naming the file and the key. Loaded taxonomies are cached by path and
modification time, so an edited file is picked up on the next load without restarting anything.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from core.errors import ConfigError

SHIPPED_TAXONOMY = Path(__file__).parent / "data" / "taxonomy.yaml"
CONTENT_TYPES = ("policy", "news", "achievement", "demand", "talent", "event", "other")
NATIONAL = "全国"


@dataclass(frozen=True)
class ContentTypeRule:
    """Cues of one content type: headline words, body words (weighted), regular expressions, policy fields."""

    name: str
    label: str
    title: dict[str, float]
    terms: dict[str, float]
    patterns: tuple[re.Pattern[str], ...] = ()
    fields: tuple[str, ...] = ()


@dataclass(frozen=True)
class Domain:
    """A tech domain; ``terms`` maps each term to the sub-field it belongs to."""

    name: str
    subfields: dict[str, tuple[str, ...]]

    @property
    def terms(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for sub, terms in self.subfields.items():
            for term in terms:
                out.setdefault(term, sub)
        return out


@dataclass(frozen=True)
class Region:
    """A province-level region with the names that point at it in text and the hosts that belong to it."""

    name: str
    aliases: tuple[str, ...]
    cities: tuple[str, ...]
    hosts: tuple[str, ...]


@dataclass(frozen=True)
class Taxonomy:
    path: str
    version: int
    relevance_threshold: float
    positive: dict[str, float]
    negative: dict[str, float]
    content_types: dict[str, ContentTypeRule]
    domains: dict[str, Domain]
    domain_min_score: float
    domain_min_share: float
    national_terms: dict[str, float]
    national_hosts: tuple[str, ...]
    foreign_terms: dict[str, float]
    regions: dict[str, Region]
    region_names: dict[str, str] = field(default_factory=dict)  # any name/alias/city -> region
    research_terms: tuple[str, ...] = ()  # phrases of research writing: the learned domain model leads there
    cues: dict[str, tuple[str, ...]] = field(default_factory=dict)  # named word lists read by the rules
    cue_patterns: dict[str, tuple[re.Pattern[str], ...]] = field(default_factory=dict)  # and their patterns

    def region_for_name(self, name: str) -> str | None:
        """The region a name, alias or city points at (``全国`` for the national name), else ``None``."""
        if name == NATIONAL:
            return NATIONAL
        return self.region_names.get(name)


# ----------------------------------------------------------------------------------------------------------
# validation helpers
# ----------------------------------------------------------------------------------------------------------
def _err(path: str, key: str, message: str) -> ConfigError:
    return ConfigError(f"{path}: key {key!r}: {message}")


def _mapping(value: Any, path: str, key: str) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise _err(path, key, f"expected a mapping, got {type(value).__name__}")
    return value


def _number(value: Any, path: str, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _err(path, key, f"expected a number, got {value!r}")
    return float(value)


def _terms(value: Any, path: str, key: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise _err(path, key, f"expected a list of terms, got {type(value).__name__}")
    out = []
    for i, item in enumerate(value):
        if isinstance(item, int | float) and not isinstance(item, bool):
            item = str(item)
        if not isinstance(item, str) or not item.strip():
            raise _err(path, f"{key}[{i}]", f"expected a non-empty string, got {item!r}")
        out.append(item.strip())
    return tuple(out)


def _weighted(value: Any, path: str, key: str) -> dict[str, float]:
    """A list of terms (weight 1) or a mapping term -> weight."""
    if isinstance(value, list) or value is None:
        return {t: 1.0 for t in _terms(value, path, key)}
    out: dict[str, float] = {}
    for term, weight in _mapping(value, path, key).items():
        term = str(term).strip()
        if not term:
            raise _err(path, key, "empty term")
        out[term] = _number(weight, path, f"{key}.{term}")
    return out


def _patterns(value: Any, path: str, key: str) -> tuple[re.Pattern[str], ...]:
    out = []
    for i, text in enumerate(_terms(value, path, key)):
        try:
            out.append(re.compile(text))
        except re.error as exc:
            raise _err(path, f"{key}[{i}]", f"not a valid regular expression: {exc}") from None
    return tuple(out)


def _unknown(data: Mapping[str, Any], known: set[str], path: str, key: str) -> None:
    extra = sorted(set(map(str, data)) - known)
    if extra:
        where = f"{key}.{extra[0]}" if key else extra[0]
        raise _err(path, where, f"unknown key (known: {', '.join(sorted(known))})")


# ----------------------------------------------------------------------------------------------------------
# parsing
# ----------------------------------------------------------------------------------------------------------
def parse_taxonomy(data: Any, path: str = "<taxonomy>") -> Taxonomy:
    """Validate a parsed YAML document and build the :class:`Taxonomy`."""
    doc = _mapping(data, path, "<document>")
    if not doc:
        raise ConfigError(f"{path}: empty taxonomy")
    _unknown(
        doc,
        {
            "version",
            "relevance",
            "content_types",
            "domains",
            "domain_min_score",
            "domain_min_share",
            "national",
            "foreign",
            "regions",
            "research_terms",
            "cues",
        },
        path,
        "",
    )
    for required in ("relevance", "content_types", "domains", "regions"):
        if required not in doc:
            raise _err(path, required, "missing")
    version = doc.get("version", 1)
    if not isinstance(version, int) or isinstance(version, bool):
        raise _err(path, "version", f"expected an integer, got {version!r}")

    rel = _mapping(doc["relevance"], path, "relevance")
    _unknown(rel, {"threshold", "positive", "negative"}, path, "relevance")
    threshold = _number(rel.get("threshold", 0.5), path, "relevance.threshold")
    if not 0.0 <= threshold <= 1.0:
        raise _err(path, "relevance.threshold", f"must lie in 0..1, got {threshold}")
    positive = _weighted(rel.get("positive"), path, "relevance.positive")
    negative = _weighted(rel.get("negative"), path, "relevance.negative")

    types_doc = _mapping(doc["content_types"], path, "content_types")
    content_types: dict[str, ContentTypeRule] = {}
    for name, spec in types_doc.items():
        key = f"content_types.{name}"
        if name not in CONTENT_TYPES:
            raise _err(path, key, f"unknown content type (known: {', '.join(CONTENT_TYPES)})")
        spec = _mapping(spec, path, key)
        _unknown(spec, {"label", "title", "terms", "patterns", "fields"}, path, key)
        label = spec.get("label", name)
        if not isinstance(label, str):
            raise _err(path, f"{key}.label", f"expected a string, got {label!r}")
        content_types[name] = ContentTypeRule(
            name=name,
            label=label,
            title=_weighted(spec.get("title"), path, f"{key}.title"),
            terms=_weighted(spec.get("terms"), path, f"{key}.terms"),
            patterns=_patterns(spec.get("patterns"), path, f"{key}.patterns"),
            fields=_terms(spec.get("fields"), path, f"{key}.fields"),
        )
    missing = [t for t in CONTENT_TYPES if t not in content_types]
    if missing:
        raise _err(path, f"content_types.{missing[0]}", "missing (every content type must be listed)")

    domains: dict[str, Domain] = {}
    for name, subs in _mapping(doc["domains"], path, "domains").items():
        key = f"domains.{name}"
        subs = _mapping(subs, path, key)
        if not subs:
            raise _err(path, key, "a domain needs at least one sub-field with terms")
        domains[str(name)] = Domain(
            name=str(name), subfields={str(s): _terms(t, path, f"{key}.{s}") for s, t in subs.items()}
        )
    if not domains:
        raise _err(path, "domains", "no domains")

    national = _mapping(doc.get("national"), path, "national")
    _unknown(national, {"name", "terms", "hosts"}, path, "national")
    if national.get("name", NATIONAL) != NATIONAL:
        raise _err(path, "national.name", f"must be {NATIONAL!r}")
    foreign = _mapping(doc.get("foreign"), path, "foreign")
    _unknown(foreign, {"terms"}, path, "foreign")

    regions: dict[str, Region] = {}
    names: dict[str, str] = {}
    for name, spec in _mapping(doc["regions"], path, "regions").items():
        key = f"regions.{name}"
        spec = _mapping(spec, path, key)
        _unknown(spec, {"aliases", "cities", "hosts"}, path, key)
        region = Region(
            name=str(name),
            aliases=_terms(spec.get("aliases"), path, f"{key}.aliases"),
            cities=_terms(spec.get("cities"), path, f"{key}.cities"),
            hosts=tuple(h.lower().lstrip(".") for h in _terms(spec.get("hosts"), path, f"{key}.hosts")),
        )
        regions[region.name] = region
        for n in (region.name, *region.aliases, *region.cities):
            names.setdefault(n, region.name)
    if not regions:
        raise _err(path, "regions", "no regions")

    cues: dict[str, tuple[str, ...]] = {}
    cue_patterns: dict[str, tuple[re.Pattern[str], ...]] = {}
    for name, spec in _mapping(doc.get("cues"), path, "cues").items():
        key = f"cues.{name}"
        if isinstance(spec, Mapping):
            _unknown(spec, {"terms", "patterns"}, path, key)
            cues[str(name)] = _terms(spec.get("terms"), path, f"{key}.terms")
            cue_patterns[str(name)] = _patterns(spec.get("patterns"), path, f"{key}.patterns")
        else:
            cues[str(name)] = _terms(spec, path, key)
            cue_patterns[str(name)] = ()

    return Taxonomy(
        path=path,
        version=version,
        relevance_threshold=threshold,
        positive=positive,
        negative=negative,
        content_types=content_types,
        domains=domains,
        domain_min_score=_number(doc.get("domain_min_score", 3.0), path, "domain_min_score"),
        domain_min_share=_number(doc.get("domain_min_share", 0.3), path, "domain_min_share"),
        national_terms=_weighted(national.get("terms"), path, "national.terms"),
        national_hosts=tuple(h.lower() for h in _terms(national.get("hosts"), path, "national.hosts")),
        foreign_terms=_weighted(foreign.get("terms"), path, "foreign.terms"),
        regions=regions,
        region_names=names,
        research_terms=_terms(doc.get("research_terms"), path, "research_terms"),
        cues=cues,
        cue_patterns=cue_patterns,
    )


_CACHE: dict[str, tuple[float, Taxonomy]] = {}


def load_taxonomy(path: str | os.PathLike[str] | None = None) -> Taxonomy:
    """Load and validate a taxonomy file (default: the shipped one); reloaded when the file changes."""
    p = Path(path).expanduser() if path else SHIPPED_TAXONOMY
    key = str(p)
    try:
        mtime = p.stat().st_mtime_ns
    except OSError:
        raise ConfigError(f"{p}: taxonomy file not found") from None
    cached = _CACHE.get(key)
    if cached and cached[0] == mtime:
        return cached[1]
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{p}: not valid YAML: {exc}") from None
    taxonomy = parse_taxonomy(data, key)
    _CACHE[key] = (mtime, taxonomy)
    return taxonomy


def taxonomy_for(settings: Any = None) -> Taxonomy:
    """The taxonomy a settings object names (its ``taxonomy`` attribute), else the shipped one."""
    path = getattr(settings, "taxonomy", "") if settings is not None else ""
    return load_taxonomy(path or None)
