"""A document: its facts, labels with the classifier's evidence, library entries, body, reprints, story and
revisions."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from search.query import Query
from search.web.deps import Web, page_user, web

router = APIRouter(include_in_schema=False)


def _related(ctx: Web, field: str, value: str) -> list[Any]:
    if not value:
        return []
    res = ctx.backend.search(Query(filters={field: [value]}, sort="date", size=200, highlight=False))
    return sorted(res.hits, key=lambda h: (h.published or "9999", h.id))


@router.get("/doc/{doc_id}", response_class=HTMLResponse)
def document_page(
    request: Request, doc_id: str, user: dict[str, Any] = Depends(page_user), ctx: Web = Depends(web)
) -> HTMLResponse:
    article = ctx.backend.get(doc_id) if len(doc_id) <= 64 else None
    if article is None:
        return ctx.render(request, "message.html", user, 404, title="文档不存在", message=f"没有编号为 {doc_id[:64]} 的文档。")
    cluster = _related(ctx, "cluster_id", article.cluster_id)
    if not any(h.id == article.id for h in cluster):
        cluster = []
    story = [h for h in _related(ctx, "story_id", article.story_id) if h.cluster_id != article.cluster_id or not h.cluster_id]
    entries = [e for e in (ctx.backend.get_record("entries", str(x.get("id", ""))) or x for x in article.entries) if e]
    return ctx.render(
        request, "document.html", user,
        doc=article,
        reprints=[h for h in cluster if h.id != article.id],
        cluster=cluster,
        story=story,
        entries=entries,
        revisions=ctx.backend.revisions(doc_id),
        paragraphs=[p for p in article.text.split("\n") if p.strip()],
    )
