"""Word lists as data: YAML files beside the taxonomy (``pipelines/data/``), read once and re-read when they change.

Each list file is a mapping of named lists. :func:`load_wordlists` validates the file's shape and returns plain
Python values; the modules that use a file (``pipelines/route/lexicon.py`` for ``people.yaml``) build their
matchers from it, once per loaded version. Errors name the file and the key, like the taxonomy's.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from core.errors import ConfigError

DATA_DIR = Path(__file__).resolve().parent / "data"

_CACHE: dict[str, tuple[int, dict[str, Any]]] = {}


def data_file(name: str) -> Path:
    """A shipped data file by name (``people.yaml``)."""
    return DATA_DIR / name


def load_wordlists(path: str | os.PathLike[str]) -> tuple[dict[str, Any], int]:
    """The mapping in a word-list file and its modification time (the cache key of what is built from it)."""
    p = Path(path).expanduser()
    try:
        mtime = p.stat().st_mtime_ns
    except OSError:
        raise ConfigError(f"{p}: word-list file not found") from None
    key = str(p)
    hit = _CACHE.get(key)
    if hit and hit[0] == mtime:
        return hit[1], mtime
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{p}: not valid YAML: {exc}") from None
    if not isinstance(data, Mapping):
        raise ConfigError(f"{p}: expected a mapping of word lists")
    out = {str(k): v for k, v in data.items()}
    _CACHE[key] = (mtime, out)
    return out, mtime


def words(data: Mapping[str, Any], key: str, path: str | os.PathLike[str]) -> tuple[str, ...]:
    """A list of non-empty strings under ``key`` (missing: empty)."""
    value = data.get(key)
    if value is None:
        return ()
    if not isinstance(value, list):
        raise ConfigError(f"{path}: key {key!r}: expected a list of words, got {type(value).__name__}")
    out: list[str] = []
    for i, item in enumerate(value):
        if isinstance(item, int | float) and not isinstance(item, bool):
            item = str(item)
        if not isinstance(item, str) or not item.strip():
            raise ConfigError(f"{path}: key '{key}[{i}]': expected a non-empty string, got {item!r}")
        out.append(item.strip())
    return tuple(out)


def chars(data: Mapping[str, Any], key: str, path: str | os.PathLike[str]) -> frozenset[str]:
    """A set of single characters written as one string under ``key`` (spaces ignored)."""
    value = data.get(key)
    if value is None:
        return frozenset()
    if not isinstance(value, str):
        raise ConfigError(f"{path}: key {key!r}: expected a string of characters, got {type(value).__name__}")
    return frozenset(c for c in value if not c.isspace())


def mapping(data: Mapping[str, Any], key: str, path: str | os.PathLike[str]) -> dict[str, str]:
    """A mapping of strings to strings under ``key``."""
    value = data.get(key)
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ConfigError(f"{path}: key {key!r}: expected a mapping, got {type(value).__name__}")
    out: dict[str, str] = {}
    for k, v in value.items():
        if not isinstance(v, str | int | float) or isinstance(v, bool) or not str(k).strip():
            raise ConfigError(f"{path}: key '{key}.{k}': expected a string, got {v!r}")
        out[str(k).strip()] = str(v).strip()
    return out


def known_keys(data: Mapping[str, Any], known: set[str], path: str | os.PathLike[str]) -> None:
    """Refuse keys a file does not know (a typo would otherwise silently do nothing)."""
    extra = sorted(set(data) - known)
    if extra:
        raise ConfigError(f"{path}: key {extra[0]!r}: unknown key (known: {', '.join(sorted(known))})")
