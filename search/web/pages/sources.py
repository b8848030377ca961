"""The sources with their schedules and recent runs, and 立即抓取 (admins)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

import search.web.services as services
from core.errors import CrawlBusy
from search.web.deps import Web, admin_user, form_with_csrf, page_user, web
from search.web.errors import ApiError

router = APIRouter(include_in_schema=False)
RUNS_SHOWN = 5


def run_examples(run: dict[str, Any], limit: int = 5) -> list[tuple[str, str]]:
    """(error kind, URL) pairs of a run record's ``error_examples`` (a mapping of kind to URLs, or a list)."""
    examples = run.get("error_examples") or {}
    out: list[tuple[str, str]] = []
    if isinstance(examples, dict):
        for kind, urls in examples.items():
            for url in urls if isinstance(urls, list | tuple) else [urls]:
                out.append((str(kind), str(url)))
    elif isinstance(examples, list | tuple):
        out = [("", e if isinstance(e, str) else str(e)) for e in examples]
    return out[:limit]


@router.get("/sources", response_class=HTMLResponse)
def sources_page(request: Request, user: dict[str, Any] = Depends(page_user), ctx: Web = Depends(web)) -> HTMLResponse:
    srcs, error = ctx.sources()
    rows = []
    for s in srcs:
        runs = ctx.backend.list_records("runs", {"source": s.name}, limit=RUNS_SHOWN)
        rows.append(
            {
                "source": s,
                "schedule": s.schedule or ctx.settings.schedule,
                "runs": [r | {"examples": run_examples(r)} for r in runs],
                "running": services.is_running(ctx.settings, s.name),
            }
        )
    return ctx.render(
        request, "sources.html", user, rows=rows, error=error, sources_path=str(ctx.settings.sources_path),
        started=request.query_params.get("started", "")[:64], busy=request.query_params.get("busy", "")[:64],
    )


@router.post("/sources/{name}/crawl")
async def crawl_now(
    request: Request, name: str, user: dict[str, Any] = Depends(admin_user), ctx: Web = Depends(web)
) -> Response:
    await form_with_csrf(request, ctx)
    if name not in {s.name for s in ctx.sources()[0]}:
        raise ApiError(404, "没有这个数据源")
    try:
        run_id = services.crawl_now(ctx.settings, name)
    except CrawlBusy:
        return RedirectResponse("/sources?" + urlencode({"busy": name}) + f"#src-{name}", status_code=303)
    return RedirectResponse("/sources?" + urlencode({"started": name, "run": run_id}) + f"#src-{name}", status_code=303)
