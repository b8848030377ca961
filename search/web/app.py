"""FastAPI application: server-rendered staff pages and the JSON API.

:func:`create_app` builds the app from the settings (and optionally an already open backend). Pages need a
staff session (signed cookie); the API accepts a session or ``Authorization: Bearer TOKEN``. Every form carries
the session's CSRF token. Crawled strings are escaped by the templates; only search snippets (escaped by the
backend, with ``<mark>`` around matched words) are rendered as markup.
"""

from __future__ import annotations

import csv
import functools
import io
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import quote_plus, urlencode

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi import Query as QueryParam
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel, Field
from starlette.datastructures import QueryParams

from core.errors import QueryError, TechscoutError
from core.settings import Settings
from search import users
from search.backends.base import Backend
from search.query import Query, SearchResult
from search.web.auth import (
    COOKIE,
    SESSION_SECONDS,
    UrlError,
    check_csrf,
    check_webhook_url,
    csrf_token,
    load_secret,
    new_session,
    read_session,
    sign_session,
)

HERE = Path(__file__).parent
REPO_ROOT = HERE.parent.parent

CONTENT_TYPES = {
    "policy": "政策",
    "news": "新闻",
    "achievement": "成果",
    "demand": "需求",
    "talent": "人才",
    "event": "活动",
    "other": "其他",
}
LIBRARIES = {"problem": "问题库", "project": "项目库", "talent": "人才库"}
FACETS = {
    "content_type": "类型",
    "domains": "领域",
    "region": "地区",
    "source": "来源",
    "libraries": "入库",
    "month": "月份",
}
# query parameter -> Query filter field (the same names as the CLI's options)
PARAM_FILTERS = {
    "type": "content_type",
    "source": "source",
    "domain": "domains",
    "region": "region",
    "library": "libraries",
}
FILTER_PARAMS = {v: k for k, v in PARAM_FILTERS.items()}
EXPORT_LIMIT = 10000
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)


class LoginRequired(Exception):
    """Raised by page dependencies without a session: answered with a redirect to the login page."""

    def __init__(self, next_url: str) -> None:
        self.next_url = next_url


# ---------------------------------------------------------------------------------------------------------------
# pure helpers
# ---------------------------------------------------------------------------------------------------------------
def _date_param(value: str | None, name: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise QueryError(f"{name}: 日期格式应为 YYYY-MM-DD，收到 {value!r}") from None


def query_from_params(
    params: QueryParams | dict[str, Any],
    *,
    default_size: int = 10,
    facets: bool = False,
    collapse: bool = False,
) -> Query:
    """The :class:`Query` that ``/search`` and ``/api/search`` parameters describe (CLI option names)."""
    qp = params if isinstance(params, QueryParams) else QueryParams(params)
    filters: dict[str, list[str]] = {}
    for param, fld in PARAM_FILTERS.items():
        values = [v for v in qp.getlist(param) if v.strip()]
        if values:
            filters[fld] = values
    sort = qp.get("sort") or "relevance"
    if sort not in ("relevance", "date"):
        raise QueryError(f"sort: 应为 relevance 或 date，收到 {sort!r}")
    try:
        page = int(qp.get("page") or 1)
        size = int(qp.get("size") or default_size)
    except ValueError:
        raise QueryError("page 和 size 应为整数") from None
    collapse_param = qp.get("collapse")
    return Query(
        text=qp.get("q") or "",
        filters=filters,
        since=_date_param(qp.get("since"), "since"),
        until=_date_param(qp.get("until"), "until"),
        sort="date" if sort == "date" else "relevance",
        page=page,
        size=size,
        facets=list(FACETS) if facets else [],
        collapse=collapse if collapse_param is None else collapse_param in ("1", "true", "yes", "on"),
    )


def url_with(path: str, params: QueryParams, drop: tuple[str, ...] = (), **changes: Any) -> str:
    """``path`` with the current query parameters, minus ``drop``, with ``changes`` applied.

    A change to a list value replaces every value of that parameter; ``None`` removes it."""
    items = [_pair(k, v) for k, v in params.multi_items() if k not in changes and k not in drop]
    for key, value in changes.items():
        if value is None:
            continue
        if isinstance(value, list | tuple):
            items += [_pair(key, str(v)) for v in value]
        else:
            items.append(_pair(key, str(value)))
    return path + ("?" + "&".join(items) if items else "")


@functools.lru_cache(maxsize=8192)
def _pair(key: str, value: str) -> str:
    return quote_plus(key) + "=" + quote_plus(value)


def search_url(text: str, filters: dict[str, list[str]] | None) -> str:
    """The search page for a saved query and its filters (filter field names as stored)."""
    items = [("q", text or "")]
    for fld, values in (filters or {}).items():
        items += [(FILTER_PARAMS.get(fld, fld), str(v)) for v in values or []]
    return "/search?" + urlencode(items)


def safe_url(url: Any) -> str:
    """``url`` when it is an http(s) URL, else ``#`` (crawled links must not become ``javascript:``)."""
    text = str(url or "").strip()
    return text if text.lower().startswith(("http://", "https://")) else "#"


def toggle_filter_url(params: QueryParams, param: str, value: str) -> str:
    current = params.getlist(param)
    values = [v for v in current if v != value] if value in current else [*current, value]
    return url_with("/search", params, drop=("page",), **{param: values})


def month_range(month: str) -> tuple[str, str] | None:
    """``2024-05`` → ("2024-05-01", "2024-05-31")."""
    try:
        start = date.fromisoformat(month[:7] + "-01")
    except ValueError:
        return None
    nxt = date(start.year + (start.month == 12), start.month % 12 + 1, 1)
    return start.isoformat(), date.fromordinal(nxt.toordinal() - 1).isoformat()


def pages_around(page: int, last: int, width: int = 2) -> list[int]:
    """Page numbers to link: first, last and ``width`` around the current one (0 marks a gap)."""
    keep = {1, last, *range(page - width, page + width + 1)}
    out: list[int] = []
    for p in sorted(n for n in keep if 1 <= n <= last):
        if out and p - out[-1] > 1:
            out.append(0)
        out.append(p)
    return out


def hits_to_csv(result: SearchResult) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf)
    cols = [
        "id",
        "title",
        "published",
        "source",
        "content_type",
        "domains",
        "region",
        "url",
        "cluster_id",
        "cluster_size",
        "score",
    ]
    writer.writerow(cols)
    for hit in result.hits:
        row = hit.to_json()
        writer.writerow(
            [
                "; ".join(row[c]) if isinstance(row[c], list) else ("" if row[c] is None else row[c])
                for c in cols
            ]
        )
    return buf.getvalue()


def validate_subscription(data: dict[str, Any], owner: str, allow_private: bool) -> dict[str, Any]:
    """A clean ``subscriptions`` record from user input; raises :class:`TechscoutError` when invalid."""
    name = str(data.get("name") or "").strip()
    if not name or len(name) > 100:
        raise TechscoutError("订阅名称不能为空，且不超过 100 字")
    query = str(data.get("query") or "").strip()
    filters_in = data.get("filters") or {}
    if not isinstance(filters_in, dict):
        raise TechscoutError('filters 应为对象，如 {"content_type": ["policy"]}')
    filters: dict[str, list[str]] = {}
    for key, values in filters_in.items():
        key = PARAM_FILTERS.get(str(key), str(key))
        vals = [values] if isinstance(values, str) else list(values or [])
        vals = [str(v).strip() for v in vals if str(v).strip()]
        if vals:
            filters[key] = vals
    Query(text=query, filters=filters).parsed()  # raises QueryError on bad syntax or unknown filters
    notify_in = data.get("notify") or []
    if isinstance(notify_in, str):
        notify_in = notify_in.split()
    notify = [check_webhook_url(str(u), allow_private) for u in notify_in if str(u).strip()]
    mode = data.get("mode") or "immediate"
    if mode not in ("immediate", "digest"):
        raise TechscoutError("mode 应为 immediate 或 digest")
    digest_at = str(data.get("digest_at") or "08:00").strip()
    try:
        hh, mm = digest_at.split(":")
        if not (0 <= int(hh) < 24 and 0 <= int(mm) < 60):
            raise ValueError
    except ValueError:
        raise TechscoutError(f"digest_at 应为 HH:MM，收到 {digest_at!r}") from None
    sub_id = str(data.get("id") or "") or uuid.uuid4().hex[:16]
    return {
        "id": sub_id,
        "name": name,
        "owner": owner,
        "query": query,
        "filters": filters,
        "notify": notify,
        "mode": mode,
        "digest_at": f"{int(hh):02d}:{int(mm):02d}",
        "updated": datetime.now(UTC).isoformat(timespec="seconds"),
    }


# ---------------------------------------------------------------------------------------------------------------
# API models (for the OpenAPI schema)
# ---------------------------------------------------------------------------------------------------------------
class SubscriptionIn(BaseModel):
    id: str | None = None
    name: str
    query: str = ""
    filters: dict[str, list[str]] = Field(default_factory=dict)
    notify: list[str] = Field(default_factory=list)
    mode: Literal["immediate", "digest"] = "immediate"
    digest_at: str = "08:00"


# ---------------------------------------------------------------------------------------------------------------
# the app
# ---------------------------------------------------------------------------------------------------------------
def create_app(settings: Settings, backend: Backend | None = None) -> FastAPI:
    """The web UI and API over ``backend`` (default: the backend the settings name, opened now)."""
    if backend is None:
        from search.backends import open_backend

        backend = open_backend(settings)
    store: Backend = backend
    secret = load_secret(settings.secret_key, settings.data_dir)
    app = FastAPI(
        title="techscout",
        description="科技资源监测：检索、文档、资源库、数据源与订阅的 JSON API",
        version="0.1.0",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.backend = store
    app.state.settings = settings
    app.state.crawls = {}
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    templates.env.globals.update(
        CONTENT_TYPES=CONTENT_TYPES,
        LIBRARIES=LIBRARIES,
        FACETS=FACETS,
        FILTER_PARAMS=FILTER_PARAMS,
        url_with=url_with,
        toggle_filter_url=toggle_filter_url,
        month_range=month_range,
    )
    templates.env.globals["search_url"] = search_url
    templates.env.filters["safe_url"] = safe_url
    templates.env.filters["when"] = lambda v: str(v or "")[:16].replace("T", " ")
    templates.env.filters["day"] = lambda v: (str(v) if v else "")[:10]
    templates.env.filters["ctype"] = lambda v: CONTENT_TYPES.get(str(v), str(v or ""))
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    failures: dict[str, list[float]] = {}
    source_cache: dict[str, Any] = {"at": 0.0, "sources": [], "error": ""}

    def sources() -> tuple[list[Any], str]:
        if time.time() - source_cache["at"] > 30:
            from crawlers.sources import load_sources

            try:
                source_cache["sources"] = load_sources(settings.sources_path, include_disabled=True)
                source_cache["error"] = ""
            except TechscoutError as exc:
                source_cache["sources"], source_cache["error"] = [], str(exc)
            source_cache["at"] = time.time()
        return source_cache["sources"], source_cache["error"]

    def source_titles() -> dict[str, str]:
        srcs = sources()[0]
        if source_cache.get("titles_of") is not srcs:
            source_cache["titles"] = {s.name: s.title or s.name for s in srcs}
            source_cache["titles_of"] = srcs
        titles: dict[str, str] = source_cache["titles"]
        return titles

    templates.env.globals["source_title"] = lambda name: source_titles().get(str(name), str(name))

    # -- sessions -------------------------------------------------------------------------------------------------
    @app.middleware("http")
    async def session_middleware(request: Request, call_next: Callable[[Request], Any]) -> Response:
        started = time.perf_counter()
        session = read_session(secret, request.cookies.get(COOKIE))
        fresh = None
        if session is None:
            session = fresh = new_session()
        request.state.session = session
        request.state.new_session = None
        response: Response = await call_next(request)
        out = request.state.new_session or fresh
        if out is not None:
            response.set_cookie(
                COOKIE,
                sign_session(secret, out),
                max_age=SESSION_SECONDS,
                httponly=True,
                samesite="lax",
                secure=request.url.scheme == "https",
                path="/",
            )
        response.headers["Server-Timing"] = f"app;dur={(time.perf_counter() - started) * 1000:.1f}"
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        if response.headers.get("content-type", "").startswith("text/html"):
            response.headers.setdefault("X-Frame-Options", "DENY")
            if request.url.path != "/docs/swagger":  # Swagger UI loads its script and styles from a CDN
                response.headers.setdefault("Content-Security-Policy", CSP)
        return response

    def session_user(request: Request) -> dict[str, Any] | None:
        name = request.state.session.get("u")
        return users.get_user(store, name) if name else None

    def page_user(request: Request) -> dict[str, Any]:
        user = session_user(request)
        if user is None:
            raise LoginRequired(
                str(request.url.path) + ("?" + request.url.query if request.url.query else "")
            )
        return user

    def api_user(request: Request) -> dict[str, Any]:
        auth = request.headers.get("authorization", "")
        if auth.lower().startswith("bearer "):
            principal = users.check_token(store, auth[7:].strip())
            if principal is None:
                raise HTTPException(401, "无效的 API 令牌", headers={"WWW-Authenticate": "Bearer"})
            return principal
        user = session_user(request)
        if user is None:
            raise HTTPException(401, "需要登录或 API 令牌", headers={"WWW-Authenticate": "Bearer"})
        if request.method not in ("GET", "HEAD") and not check_csrf(
            secret, request.state.session, request.headers.get("x-csrf-token")
        ):
            raise HTTPException(403, "CSRF 校验失败")
        return user

    @app.exception_handler(LoginRequired)
    async def _login_redirect(request: Request, exc: LoginRequired) -> Response:
        return RedirectResponse("/login?" + urlencode({"next": exc.next_url}), status_code=303)

    def render(
        request: Request, template: str, user: dict[str, Any] | None, status: int = 200, **ctx: Any
    ) -> HTMLResponse:
        session = request.state.new_session or request.state.session
        ctx |= {
            "user": user,
            "csrf": csrf_token(secret, session),
            "params": request.query_params,
            "path": request.url.path,
        }
        return templates.TemplateResponse(request, template, ctx, status_code=status)

    async def form_with_csrf(request: Request) -> dict[str, Any]:
        form = await request.form()
        if not check_csrf(secret, request.state.session, str(form.get("csrf") or "")):
            raise HTTPException(403, "CSRF 校验失败：请刷新页面后重试")
        data: dict[str, Any] = {}
        for key, value in form.multi_items():
            if isinstance(value, str):
                data.setdefault(key, []).append(value)
        return data

    # -- login ----------------------------------------------------------------------------------------------------
    @app.get("/login", response_class=HTMLResponse, include_in_schema=False)
    def login_page(request: Request, next: str = "/") -> HTMLResponse:
        return render(
            request,
            "login.html",
            None,
            next=next if next.startswith("/") and not next.startswith("//") else "/",
        )

    @app.post("/login", include_in_schema=False)
    async def login(request: Request) -> Response:
        data = await form_with_csrf(request)
        name = (data.get("name") or [""])[0].strip()
        password = (data.get("password") or [""])[0]
        nxt = (data.get("next") or ["/"])[0]
        if not nxt.startswith("/") or nxt.startswith("//"):
            nxt = "/"
        now = time.time()
        recent = [t for t in failures.get(name, []) if now - t < 600]
        if len(recent) >= 10:
            return render(
                request, "login.html", None, 429, next=nxt, error="失败次数过多，请 10 分钟后再试", name=name
            )
        user = users.authenticate(store, name, password)
        if user is None:
            failures[name] = [*recent, now]
            return render(request, "login.html", None, 401, next=nxt, error="用户名或密码错误", name=name)
        failures.pop(name, None)
        request.state.new_session = new_session(user)
        return RedirectResponse(nxt, status_code=303)

    @app.post("/logout", include_in_schema=False)
    async def logout(request: Request) -> Response:
        await form_with_csrf(request)
        request.state.new_session = new_session()
        return RedirectResponse("/login", status_code=303)

    # -- search ---------------------------------------------------------------------------------------------------
    @app.get("/", include_in_schema=False)
    def home(user: dict[str, Any] = Depends(page_user)) -> Response:
        return RedirectResponse("/search", status_code=303)

    @app.get("/search", response_class=HTMLResponse, include_in_schema=False)
    def search_page(request: Request, user: dict[str, Any] = Depends(page_user)) -> HTMLResponse:
        error = ""
        result = SearchResult(total=0, hits=[])
        query: Query | None = None
        doc_total = 0
        try:
            query = query_from_params(request.query_params, default_size=20, facets=True, collapse=True)
            result = store.search(query)
            # facet counts are documents; the collapsed total is clusters: show both when they differ
            doc_total = store.count(query) if result.total else 0
        except TechscoutError as exc:
            error = str(exc)
        size = query.size if query else 20
        page = query.page if query else 1
        last = max(1, -(-result.total // size)) if size else 1
        return render(
            request,
            "search.html",
            user,
            400 if error else 200,
            result=result,
            doc_total=doc_total,
            query=query,
            error=error,
            pages=pages_around(page, last),
            page=page,
            last_page=last,
        )

    @app.get("/search/export.{fmt}", include_in_schema=False)
    def export(request: Request, fmt: str, user: dict[str, Any] = Depends(page_user)) -> Response:
        return _export(request, fmt)

    def _export(request: Request, fmt: str) -> Response:
        if fmt not in ("csv", "json"):
            raise HTTPException(404, "导出格式应为 csv 或 json")
        params = {k: v for k, v in request.query_params.multi_items() if k not in ("page", "size")}
        try:
            first = query_from_params(QueryParams(list(params.items()) + [("size", "1000")]), collapse=True)
            result = store.search(first)
            hits = list(result.hits)
            page = 1
            while len(hits) < min(result.total, EXPORT_LIMIT) and first.size:
                page += 1
                more = store.search(
                    query_from_params(
                        QueryParams(list(params.items()) + [("size", "1000"), ("page", str(page))]),
                        collapse=True,
                    )
                )
                if not more.hits:
                    break
                hits += more.hits
        except TechscoutError as exc:
            raise HTTPException(400, str(exc)) from None
        full = SearchResult(total=result.total, hits=hits[:EXPORT_LIMIT])
        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M")
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

    # -- documents ------------------------------------------------------------------------------------------------
    def related(field: str, value: str) -> list[Any]:
        if not value:
            return []
        res = store.search(Query(filters={field: [value]}, sort="date", size=200, highlight=False))
        return sorted(res.hits, key=lambda h: (h.published or "9999", h.id))

    @app.get("/doc/{doc_id}", response_class=HTMLResponse, include_in_schema=False)
    def document_page(
        request: Request, doc_id: str, user: dict[str, Any] = Depends(page_user)
    ) -> HTMLResponse:
        article = store.get(doc_id)
        if article is None:
            return render(
                request,
                "message.html",
                user,
                404,
                title="文档不存在",
                message=f"没有 id 为 {doc_id} 的文档。",
            )
        cluster = related("cluster_id", article.cluster_id)
        story = [
            h
            for h in related("story_id", article.story_id)
            if h.cluster_id != article.cluster_id or not h.cluster_id
        ]
        entries = [
            e for e in (store.get_record("entries", str(x.get("id", ""))) or x for x in article.entries) if e
        ]
        return render(
            request,
            "document.html",
            user,
            doc=article,
            cluster=cluster,
            story=story,
            entries=entries,
            revisions=store.revisions(doc_id),
            paragraphs=[p for p in article.text.split("\n") if p.strip()],
        )

    # -- libraries ------------------------------------------------------------------------------------------------
    def list_entries(
        library: str | None, q: str = "", domain: str = "", region: str = ""
    ) -> list[dict[str, Any]]:
        rows = store.list_records("entries", {"library": library} if library else None, limit=100000)
        out = []
        for e in rows:
            if (
                q
                and q.lower()
                not in json.dumps(
                    {k: e.get(k) for k in ("name", "organization", "owner", "affiliation", "title", "need")},
                    ensure_ascii=False,
                ).lower()
            ):
                continue
            if domain and domain not in (e.get("domains") or []):
                continue
            if region and region != (e.get("region") or ""):
                continue
            out.append(e)
        return out

    @app.get("/library/{library}", response_class=HTMLResponse, include_in_schema=False)
    def library_page(
        request: Request,
        library: str,
        q: str = "",
        domain: str = "",
        region: str = "",
        page: int = 1,
        user: dict[str, Any] = Depends(page_user),
    ) -> HTMLResponse:
        if library not in LIBRARIES:
            return render(request, "message.html", user, 404, title="没有这个资源库", message=library)
        everything = store.list_records("entries", {"library": library}, limit=100000)
        domains: dict[str, int] = {}
        regions: dict[str, int] = {}
        for e in everything:
            for d in e.get("domains") or []:
                domains[d] = domains.get(d, 0) + 1
            if e.get("region"):
                regions[e["region"]] = regions.get(e["region"], 0) + 1
        rows = list_entries(library, q, domain, region)
        size = 50
        last = max(1, -(-len(rows) // size))
        page = min(max(page, 1), last)
        return render(
            request,
            "library.html",
            user,
            library=library,
            entries=rows[(page - 1) * size : page * size],
            total=len(rows),
            q=q,
            domain=domain,
            region=region,
            page=page,
            pages=pages_around(page, last),
            domain_counts=sorted(domains.items(), key=lambda x: -x[1])[:30],
            region_counts=sorted(regions.items(), key=lambda x: -x[1])[:40],
        )

    @app.get("/entry/{entry_id}", response_class=HTMLResponse, include_in_schema=False)
    def entry_page(
        request: Request, entry_id: str, user: dict[str, Any] = Depends(page_user)
    ) -> HTMLResponse:
        entry = store.get_record("entries", entry_id)
        if entry is None:
            return render(request, "message.html", user, 404, title="条目不存在", message=entry_id)
        docs = store.get_many([str(d) for d in entry.get("doc_ids") or []])
        docs.sort(key=lambda a: a.published or "", reverse=True)
        skip = {"id", "library", "name", "doc_ids"}
        fields = [(k, v) for k, v in entry.items() if k not in skip and v not in (None, "", [], {})]
        return render(request, "entry.html", user, entry=entry, docs=docs, fields=fields)

    # -- sources and runs -----------------------------------------------------------------------------------------
    def crawl_running(name: str) -> bool:
        proc = app.state.crawls.get(name)
        return proc is not None and proc.poll() is None

    @app.get("/sources", response_class=HTMLResponse, include_in_schema=False)
    def sources_page(request: Request, user: dict[str, Any] = Depends(page_user)) -> HTMLResponse:
        srcs, error = sources()
        rows = []
        for s in srcs:
            runs = store.list_records("runs", {"source": s.name}, limit=5)
            rows.append(
                {
                    "source": s,
                    "schedule": s.schedule or settings.schedule,
                    "runs": runs,
                    "running": crawl_running(s.name),
                }
            )
        return render(
            request, "sources.html", user, rows=rows, error=error, started=request.query_params.get("started")
        )

    @app.post("/sources/{name}/crawl", include_in_schema=False)
    async def crawl_now(request: Request, name: str, user: dict[str, Any] = Depends(page_user)) -> Response:
        await form_with_csrf(request)
        if user["role"] != "admin":
            raise HTTPException(403, "只有管理员可以启动抓取")
        if name not in {s.name for s in sources()[0]}:
            raise HTTPException(404, "没有这个数据源")
        if not crawl_running(name):
            app.state.crawls[name] = start_crawl(settings, name)
        return RedirectResponse("/sources?" + urlencode({"started": name}), status_code=303)

    # -- subscriptions --------------------------------------------------------------------------------------------
    def visible_subscriptions(user: dict[str, Any]) -> list[dict[str, Any]]:
        where = None if user["role"] == "admin" else {"owner": user["name"]}
        return store.list_records("subscriptions", where, limit=1000)

    def owned_subscription(user: dict[str, Any], sub_id: str) -> dict[str, Any] | None:
        sub = store.get_record("subscriptions", sub_id)
        if sub is None or (user["role"] != "admin" and sub.get("owner") != user["name"]):
            return None
        return sub

    @app.get("/subscriptions", response_class=HTMLResponse, include_in_schema=False)
    def subscriptions_page(
        request: Request, edit: str = "", user: dict[str, Any] = Depends(page_user)
    ) -> HTMLResponse:
        current = owned_subscription(user, edit) if edit else None
        if current is None:
            qp = request.query_params
            current = {
                "name": qp.get("q", ""),
                "query": qp.get("q", ""),
                "filters": {PARAM_FILTERS[p]: qp.getlist(p) for p in PARAM_FILTERS if qp.getlist(p)},
                "notify": [],
                "mode": "immediate",
                "digest_at": "08:00",
            }
        return render(request, "subscriptions.html", user, subs=visible_subscriptions(user), current=current)

    @app.post("/subscriptions", include_in_schema=False)
    async def save_subscription(request: Request, user: dict[str, Any] = Depends(page_user)) -> Response:
        data = await form_with_csrf(request)

        def one(key: str) -> str:
            return (data.get(key) or [""])[0]

        raw: dict[str, Any] = {
            "id": one("id") or None,
            "name": one("name"),
            "query": one("query"),
            "filters": {
                p: [v for x in data.get(p, []) for v in x.replace("，", ",").split(",")]
                for p in PARAM_FILTERS
            },
            "notify": one("notify").split(),
            "mode": one("mode"),
            "digest_at": one("digest_at"),
        }
        owner = user["name"]
        if raw["id"]:
            old = owned_subscription(user, raw["id"])
            if old is None:
                raise HTTPException(404, "订阅不存在")
            owner = old.get("owner", owner)
        try:
            record = validate_subscription(raw, owner, settings.allow_private_urls)
        except (TechscoutError, UrlError) as exc:
            return render(
                request,
                "subscriptions.html",
                user,
                400,
                subs=visible_subscriptions(user),
                current=raw | {"filters": {PARAM_FILTERS.get(k, k): v for k, v in raw["filters"].items()}},
                error=str(exc),
            )
        store.put_record("subscriptions", record["id"], record)
        return RedirectResponse("/subscriptions", status_code=303)

    @app.post("/subscriptions/{sub_id}/delete", include_in_schema=False)
    async def delete_subscription(
        request: Request, sub_id: str, user: dict[str, Any] = Depends(page_user)
    ) -> Response:
        await form_with_csrf(request)
        if owned_subscription(user, sub_id) is None:
            raise HTTPException(404, "订阅不存在")
        store.delete_record("subscriptions", sub_id)
        return RedirectResponse("/subscriptions", status_code=303)

    # -- JSON API -------------------------------------------------------------------------------------------------
    @app.get("/api/search", tags=["search"], summary="检索（与 `techscout search --json` 相同的 JSON）")
    def api_search(
        request: Request,
        q: str = "",
        type: Annotated[list[str] | None, QueryParam()] = None,  # noqa: A002 - the CLI's option name
        source: Annotated[list[str] | None, QueryParam()] = None,
        domain: Annotated[list[str] | None, QueryParam()] = None,
        region: Annotated[list[str] | None, QueryParam()] = None,
        library: Annotated[list[str] | None, QueryParam()] = None,
        since: str | None = None,
        until: str | None = None,
        sort: Literal["relevance", "date"] = "relevance",
        page: int = 1,
        size: int = 10,
        collapse: bool = False,
        principal: dict[str, Any] = Depends(api_user),
    ) -> dict[str, Any]:
        try:
            query = query_from_params(request.query_params)
            return store.search(query).to_json()
        except TechscoutError as exc:
            raise HTTPException(400, str(exc)) from None

    @app.get("/api/documents/{doc_id}", tags=["documents"], summary="一篇文档（含修订历史）")
    def api_document(doc_id: str, principal: dict[str, Any] = Depends(api_user)) -> dict[str, Any]:
        article = store.get(doc_id)
        if article is None:
            raise HTTPException(404, "文档不存在")
        return article.to_dict() | {"revisions": store.revisions(doc_id)}

    @app.get("/api/entries", tags=["libraries"], summary="资源库条目（问题 / 项目 / 人才）")
    def api_entries(
        library: Literal["problem", "project", "talent"] | None = None,
        q: str = "",
        domain: str = "",
        region: str = "",
        limit: int = 100,
        principal: dict[str, Any] = Depends(api_user),
    ) -> list[dict[str, Any]]:
        return list_entries(library, q, domain, region)[: max(0, min(limit, 10000))]

    @app.get("/api/subscriptions", tags=["subscriptions"], summary="订阅列表")
    def api_subscriptions(principal: dict[str, Any] = Depends(api_user)) -> list[dict[str, Any]]:
        if principal.get("token"):
            return (
                store.list_records("subscriptions", {"owner": principal["name"]}, limit=1000)
                if principal["role"] != "admin"
                else store.list_records("subscriptions", None, limit=1000)
            )
        return visible_subscriptions(principal)

    @app.post("/api/subscriptions", tags=["subscriptions"], summary="创建或修改订阅", status_code=201)
    def api_create_subscription(
        body: SubscriptionIn, principal: dict[str, Any] = Depends(api_user)
    ) -> dict[str, Any]:
        owner = principal["name"]
        if body.id:
            old = owned_subscription(principal, body.id)
            if old is None and store.get_record("subscriptions", body.id) is not None:
                raise HTTPException(404, "订阅不存在")
            owner = (old or {}).get("owner", owner)
        try:
            record = validate_subscription(body.model_dump(), owner, settings.allow_private_urls)
        except TechscoutError as exc:
            raise HTTPException(422, str(exc)) from None
        store.put_record("subscriptions", record["id"], record)
        return record

    @app.delete("/api/subscriptions/{sub_id}", tags=["subscriptions"], summary="删除订阅")
    def api_delete_subscription(sub_id: str, principal: dict[str, Any] = Depends(api_user)) -> dict[str, Any]:
        if owned_subscription(principal, sub_id) is None:
            raise HTTPException(404, "订阅不存在")
        return {"deleted": store.delete_record("subscriptions", sub_id)}

    @app.get("/api/runs", tags=["sources"], summary="抓取记录")
    def api_runs(
        source: str | None = None, limit: int = 20, principal: dict[str, Any] = Depends(api_user)
    ) -> list[dict[str, Any]]:
        return store.list_records(
            "runs", {"source": source} if source else None, limit=max(0, min(limit, 1000))
        )

    @app.get("/api/sources", tags=["sources"], summary="数据源及其计划")
    def api_sources(principal: dict[str, Any] = Depends(api_user)) -> list[dict[str, Any]]:
        srcs, error = sources()
        if error:
            raise HTTPException(500, error)
        out = []
        for s in srcs:
            last = store.list_records("runs", {"source": s.name}, limit=1)
            out.append(
                s.to_json()
                | {"schedule": s.schedule or settings.schedule, "last_run": last[0] if last else None}
            )
        return out

    @app.get("/openapi.json", include_in_schema=False)
    def openapi(principal: dict[str, Any] = Depends(api_user)) -> JSONResponse:
        return JSONResponse(app.openapi())

    @app.get("/docs", response_class=HTMLResponse, include_in_schema=False)
    def docs(request: Request, user: dict[str, Any] = Depends(page_user)) -> HTMLResponse:
        spec = app.openapi()
        endpoints = []
        for path_, ops in spec.get("paths", {}).items():
            for method, op in ops.items():
                params_ = [
                    {
                        "name": p["name"],
                        "where": p.get("in", ""),
                        "required": p.get("required", False),
                        "type": _schema_type(p.get("schema", {})),
                    }
                    for p in op.get("parameters", [])
                ]
                body = "application/json" in (op.get("requestBody") or {}).get("content", {})
                endpoints.append(
                    {
                        "method": method.upper(),
                        "path": path_,
                        "summary": op.get("summary", ""),
                        "params": params_,
                        "body": body,
                        "tag": (op.get("tags") or [""])[0],
                    }
                )
        return render(request, "api.html", user, endpoints=endpoints)

    @app.get("/docs/swagger", include_in_schema=False)
    def swagger(user: dict[str, Any] = Depends(page_user)) -> HTMLResponse:
        return get_swagger_ui_html(openapi_url="/openapi.json", title="techscout API")

    return app


def _schema_type(schema: dict[str, Any]) -> str:
    if "anyOf" in schema:
        return " | ".join(_schema_type(s) for s in schema["anyOf"] if s.get("type") != "null")
    if schema.get("type") == "array":
        return _schema_type(schema.get("items", {})) + "[]"
    if "enum" in schema:
        return " | ".join(map(str, schema["enum"]))
    return str(schema.get("type", ""))


def start_crawl(settings: Settings, name: str) -> subprocess.Popen[bytes]:
    """Start ``python -m cli crawl NAME --data DIR`` in the background; its output goes to ``<data>/logs``."""
    logs = settings.paths.logs
    logs.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    log = open(logs / f"crawl-{name}-{stamp}.log", "ab")  # noqa: SIM115 - handed to the child process
    env = os.environ | settings.as_env()
    cmd = [sys.executable, "-m", "cli", "crawl", name, "--data", str(settings.data_dir), "--quiet"]
    try:
        return subprocess.Popen(
            cmd,
            cwd=str(REPO_ROOT),
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    finally:
        log.close()
