"""Problem-library needs as standing queries: an achievement that shares enough of a need's key terms notifies
the need's owner.

Every ``entries`` record with ``library == "problem"`` is a need; its key terms are jieba's TF-IDF keywords of
its name and need statement (generic words of need notices left out). A new project-library document matches a
need when two of the terms occur in it and they share a tech domain, three otherwise (all of them when the need
has fewer).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from search.matching import DocView
from search.matching import term_patterns as _term_patterns
from search.query import Term

if TYPE_CHECKING:
    from search.backends.base import Backend

CONFIG_ID = "alerts-config"
_STOP_TERMS = frozenset(
    ["需求", "技术", "问题", "项目", "企业", "公司", "研究", "开发", "研发", "解决", "需要", "相关", "进行", "实现", "提高", "提升", "能力", "合作", "寻求", "征集", "单位", "方面", "产品", "我们", "主要", "目前", "工作", "要求", "以上", "包括", "具有", "具备", "有限公司", "有限责任公司", "联系人", "联系", "电话", "万元", "年度"]
)


@lru_cache(maxsize=4096)
def _need_terms_cached(text: str, top_k: int) -> tuple[str, ...]:
    import logging

    import jieba
    import jieba.analyse

    jieba.setLogLevel(logging.WARNING)
    terms = []
    for word in jieba.analyse.extract_tags(text, topK=top_k * 3):
        w = str(word).strip().lower()
        if len(w) < 2 or w in _STOP_TERMS or re.fullmatch(r"[\d.%]+", w):
            continue
        terms.append(w)
        if len(terms) >= top_k:
            break
    return tuple(terms)


def need_terms(entry: Mapping[str, Any], top_k: int = 8) -> list[str]:
    """The key terms of a problem-library need (its name and need statement)."""
    from pipelines.normalize import normalize_text

    text = normalize_text(" ".join(str(entry.get(k) or "") for k in ("name", "need")))
    return list(_need_terms_cached(text, top_k))


def need_match(entry: Mapping[str, Any], doc: DocView, terms: Sequence[str] | None = None) -> list[str]:
    """The need's terms found in the achievement, when enough of them are (else ``[]``)."""
    terms = list(terms if terms is not None else need_terms(entry))
    if not terms:
        return []
    found = []
    for t in terms:
        pats = _term_patterns(Term(t, phrase=True))
        if pats and all(doc.has(p) for p in pats):
            found.append(t)
    shared = set(entry.get("domains") or []) & set(doc.article.domains or []) - {"其他"}
    need = min(len(terms), 2 if shared else 3)
    return found if len(found) >= need else []


def owner_channels(backend: Backend, owner: str, default: Sequence[str]) -> list[str]:
    """Where a need's owner is told: the owner's own notification URL(s), else the configured default."""
    owner = owner.strip()
    if "://" in owner:
        return [owner]
    if owner:
        user = backend.get_record("users", owner)
        if user and user.get("notify"):
            urls = user["notify"]
            return [urls] if isinstance(urls, str) else [str(u) for u in urls]
    return list(default)


def alerts_config(backend: Backend) -> dict[str, Any]:
    return backend.get_record("meta", CONFIG_ID) or {"id": CONFIG_ID, "need_notify": []}
