"""The three libraries (问题库, 项目库, 人才库) and their entries."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from search.backends.base import Backend
from search.web.deps import Web, page_user, web
from search.web.forms import pages_around
from search.web.labels import LIBRARIES, LIBRARY_NOTES

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 50
_TEXT_FIELDS = ("name", "organization", "owner", "affiliation", "title", "need")


def list_entries(
    backend: Backend, library: str | None, q: str = "", domain: str = "", region: str = ""
) -> list[dict[str, Any]]:
    """The entries of a library (every library when None) whose names match ``q`` and that have the domain and
    region asked for."""
    rows = backend.list_records("entries", {"library": library} if library else None, limit=100_000)
    needle = q.strip().lower()
    out = []
    for e in rows:
        if needle and needle not in json.dumps({k: e.get(k) for k in _TEXT_FIELDS}, ensure_ascii=False).lower():
            continue
        if domain and domain not in (e.get("domains") or []):
            continue
        if region and region != (e.get("region") or ""):
            continue
        out.append(e)
    return out


@router.get("/library/{library}", response_class=HTMLResponse)
def library_page(
    request: Request,
    library: str,
    q: str = "",
    domain: str = "",
    region: str = "",
    page: int = 1,
    user: dict[str, Any] = Depends(page_user),
    ctx: Web = Depends(web),
) -> HTMLResponse:
    if library not in LIBRARIES:
        return ctx.render(request, "message.html", user, 404, title="没有这个资源库", message=library[:64])
    everything = ctx.backend.list_records("entries", {"library": library}, limit=100_000)
    domains: dict[str, int] = {}
    regions: dict[str, int] = {}
    for e in everything:
        for d in e.get("domains") or []:
            domains[d] = domains.get(d, 0) + 1
        if e.get("region"):
            regions[e["region"]] = regions.get(e["region"], 0) + 1
    rows = list_entries(ctx.backend, library, q, domain, region)
    last = max(1, -(-len(rows) // PAGE_SIZE))
    page = min(max(page, 1), last)
    return ctx.render(
        request, "library.html", user,
        library=library, note=LIBRARY_NOTES.get(library, ""), everything=len(everything),
        entries=rows[(page - 1) * PAGE_SIZE : page * PAGE_SIZE], total=len(rows), q=q, domain=domain, region=region,
        page=page, pages=pages_around(page, last),
        domain_counts=sorted(domains.items(), key=lambda x: -x[1])[:30],
        region_counts=sorted(regions.items(), key=lambda x: -x[1])[:40],
    )


@router.get("/entry/{entry_id}", response_class=HTMLResponse)
def entry_page(
    request: Request, entry_id: str, user: dict[str, Any] = Depends(page_user), ctx: Web = Depends(web)
) -> HTMLResponse:
    entry = ctx.backend.get_record("entries", entry_id) if len(entry_id) <= 64 else None
    if entry is None:
        return ctx.render(request, "message.html", user, 404, title="条目不存在", message=entry_id[:64])
    docs = ctx.backend.get_many([str(d) for d in entry.get("doc_ids") or []])
    docs.sort(key=lambda a: a.published or "", reverse=True)
    skip = {"id", "library", "name", "doc_ids"}
    fields = [(k, v) for k, v in entry.items() if k not in skip and v not in (None, "", [], {})]
    return ctx.render(request, "entry.html", user, entry=entry, docs=docs, fields=fields)
