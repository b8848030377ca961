"""The search page and its exports (CSV, JSON)."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import QueryParams

from core import clock
from core.errors import TechscoutError
from search.query import Query, SearchResult
from search.web.deps import Web, page_user, web
from search.web.errors import ApiError, body_of
from search.web.forms import hits_to_csv, pages_around, query_from_params

router = APIRouter(include_in_schema=False)
EXPORT_LIMIT = 10_000
DEFAULT_SIZE = 20


@router.get("/")
def home(user: dict[str, Any] = Depends(page_user)) -> Response:
    return RedirectResponse("/search", status_code=303)


@router.get("/search", response_class=HTMLResponse)
def search_page(request: Request, user: dict[str, Any] = Depends(page_user), ctx: Web = Depends(web)) -> HTMLResponse:
    error = ""
    result = SearchResult(total=0, hits=[])
    query: Query | None = None
    doc_total = 0
    scitech_count: int | None = None
    try:
        query = query_from_params(
            request.query_params, default_size=DEFAULT_SIZE, facets=True, collapse=True,
            relevance_threshold=ctx.vocabulary.relevance_threshold,
        )
        result = ctx.backend.search(query)
        # facet counts are documents; the collapsed total is clusters: show both when they differ
        doc_total = ctx.backend.count(query) if result.total else 0
        if result.total:
            counting = query.counting()
            counting.min_relevance = ctx.vocabulary.relevance_threshold
            scitech_count = ctx.backend.count(counting)
    except TechscoutError as exc:
        error = body_of(exc).message
    size = query.size if query else DEFAULT_SIZE
    page = query.page if query else 1
    last = max(1, -(-result.total // size)) if size else 1
    return ctx.render(
        request, "search.html", user, 400 if error else 200,
        result=result, doc_total=doc_total, query=query, error=error, pages=pages_around(page, last), page=page,
        last_page=last, scitech_count=scitech_count,
    )


@router.get("/search/export.{fmt}")
def export(request: Request, fmt: str, user: dict[str, Any] = Depends(page_user), ctx: Web = Depends(web)) -> Response:
    if fmt not in ("csv", "json"):
        raise ApiError(404, "导出格式应为 csv 或 json")
    params = [(k, v) for k, v in request.query_params.multi_items() if k not in ("page", "size")]
    hits: list[Any] = []
    total = 0
    page = 0
    while True:
        page += 1
        query = query_from_params(
            QueryParams([*params, ("size", "1000"), ("page", str(page))]), collapse=True,
            relevance_threshold=ctx.vocabulary.relevance_threshold,
        )
        result = ctx.backend.search(query)
        total = result.total
        hits += result.hits
        if not result.hits or len(hits) >= min(total, EXPORT_LIMIT):
            break
    full = SearchResult(total=total, hits=hits[:EXPORT_LIMIT])
    stamp = clock.local(clock.now_iso()).strftime("%Y%m%d-%H%M")  # type: ignore[union-attr]
    if fmt == "csv":
        return Response(
            "\ufeff" + hits_to_csv(full),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="techscout-{stamp}.csv"'},
        )
    return Response(
        json.dumps(full.to_json(), ensure_ascii=False),
        media_type="application/json",
        headers={"Content-Disposition": f'attachment; filename="techscout-{stamp}.json"'},
    )
