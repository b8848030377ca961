"""Codes and their Chinese names, in one place: what filters accept and what staff are shown.

Filters (CLI options, API parameters, web forms, saved searches) accept a code *or* its Chinese name —
``--type 政策`` means ``policy``, ``--library 问题库`` means ``problem``, ``--region 北京`` means ``北京市``,
``--scitech 科技相关`` means ``true`` — and :func:`filter_code` turns either into the stored code. The web
shows codes by :func:`label`. Content-type labels, domains and regions come from the taxonomy (the shipped one
or the ``taxonomy`` setting), so an edited taxonomy changes what is accepted and shown without a code change.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from core.errors import QueryError
from core.values import parse_bool

#: filter field -> its Chinese name (the names of the facets and of the form fields)
FIELD_LABELS: dict[str, str] = {
    "content_type": "类型",
    "domains": "领域",
    "region": "地区",
    "source": "来源",
    "libraries": "资源库",
    "scitech_relevant": "科技相关",
    "month": "月份",
    "language": "语言",
    "cluster_id": "转载组",
    "story_id": "事件",
}
LIBRARY_LABELS: dict[str, str] = {"problem": "问题库", "project": "项目库", "talent": "人才库"}
SCITECH_LABELS: dict[str, str] = {"true": "科技相关", "false": "非科技"}
#: other names staff use for a library
_LIBRARY_ALIASES = {"问题": "problem", "需求库": "problem", "项目": "project", "成果库": "project", "人才": "talent"}
# fields whose values are free (any source name, any id): accepted as given
_FREE_FIELDS = ("source", "language", "cluster_id", "story_id")


def _taxonomy(path: str | None = None) -> Any:
    from pipelines.taxonomy import load_taxonomy

    return load_taxonomy(path or None)


def content_type_labels(taxonomy: str | None = None) -> dict[str, str]:
    """``policy`` -> ``政策`` … for every content type of the taxonomy."""
    return {code: rule.label for code, rule in _taxonomy(taxonomy).content_types.items()}


def domain_names(taxonomy: str | None = None) -> list[str]:
    return list(_taxonomy(taxonomy).domains)


def region_names(taxonomy: str | None = None) -> list[str]:
    from pipelines.taxonomy import NATIONAL

    return [NATIONAL, *_taxonomy(taxonomy).regions]


def labels(field: str, taxonomy: str | None = None) -> dict[str, str]:
    """Code -> Chinese name of every known value of ``field`` (empty for free fields)."""
    if field == "content_type":
        return content_type_labels(taxonomy)
    if field == "libraries":
        return dict(LIBRARY_LABELS)
    if field == "scitech_relevant":
        return dict(SCITECH_LABELS)
    if field == "domains":
        return {d: d for d in domain_names(taxonomy)}
    if field == "region":
        return {r: r for r in region_names(taxonomy)}
    return {}


def label(field: str, code: str | None, taxonomy: str | None = None) -> str:
    """The Chinese name of a stored code (the code itself when it has none)."""
    if code is None:
        return ""
    return labels(field, taxonomy).get(str(code), str(code))


def filter_code(field: str, value: object, taxonomy: str | None = None) -> str:
    """The stored code a filter value means (a code or its Chinese name); a :class:`QueryError` naming the
    field and the accepted values when it means nothing."""
    text = str(value).strip()
    if field in _FREE_FIELDS:
        return text
    if field == "scitech_relevant":
        for code, name in SCITECH_LABELS.items():
            if text == name:
                return code
        try:
            return "true" if parse_bool(text) else "false"
        except ValueError:
            raise _unknown(field, text, SCITECH_LABELS) from None
    if field == "region":
        tax = _taxonomy(taxonomy)
        region = tax.region_for_name(text) or (text if text in tax.regions else None)
        if region is None:
            raise _unknown(field, text, {r: r for r in region_names(taxonomy)})
        return region
    known = labels(field, taxonomy)
    if not known and field not in ("content_type", "libraries", "domains"):
        raise QueryError(f"未知的筛选字段 {field!r}")
    if text in known:
        return text
    lowered = text.lower()
    for code, name in known.items():
        if lowered == code.lower() or text == name:
            return code
    if field == "libraries" and text in _LIBRARY_ALIASES:
        return _LIBRARY_ALIASES[text]
    raise _unknown(field, text, known)


def filter_codes(field: str, values: Iterable[object], taxonomy: str | None = None) -> list[str]:
    """:func:`filter_code` of each non-empty value, duplicates dropped, order kept."""
    out: list[str] = []
    for v in values:
        if str(v).strip():
            code = filter_code(field, v, taxonomy)
            if code not in out:
                out.append(code)
    return out


def _unknown(field: str, value: str, known: Mapping[str, str]) -> QueryError:
    shown = "、".join(f"{name}（{code}）" if name != code else code for code, name in list(known.items())[:40])
    return QueryError(f"{FIELD_LABELS.get(field, field)}: 不认识的值 {value!r}，可选：{shown}")
