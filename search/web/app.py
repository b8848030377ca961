"""The FastAPI application, assembled from its routers.

:func:`create_app` builds the context (:class:`~search.web.deps.Web`: settings, backend, secret, templates,
vocabularies) and includes the routers by role — ``pages.account``, ``pages.search``, ``pages.documents``,
``pages.libraries``, ``pages.sources``, ``pages.subscriptions``, ``pages.overview``, ``apidocs`` and the JSON
``api`` — plus the session middleware, the security headers and the error handlers (every project error is a
4xx with a stable body: :mod:`search.web.errors`).

Pages need a staff session (signed cookie, its id kept server-side); the API accepts a session or
``Authorization: Bearer TOKEN``. Every form carries the session's CSRF token. Crawled strings are escaped by
the templates; only search snippets (escaped by the backend, with ``<mark>`` around matched words) and the
server-drawn SVG charts are rendered as markup.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException as StarletteHTTPException

import search.web.apidocs as apidocs
import search.web.charts as charts
import search.web.labels as labels
from core import clock
from core.errors import TechscoutError
from core.paths import private_file
from core.settings import Settings
from search.backends.base import Backend
from search.web.api import build_router, openapi_schema
from search.web.auth import COOKIE, SESSION_SECONDS, load_secret, new_session, read_session, sign_session
from search.web.deps import HERE, LoginRequired, Vocabulary, Web, api_user, session_user
from search.web.errors import ApiError, error_response, page_message
from search.web.forms import FILTER_PARAMS, month_range, safe_url, search_url, toggle_filter_url, url_with
from search.web.pages import account, documents, libraries, overview, search, sources, subscriptions

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
DESCRIPTION = """科技资源监测的 JSON API：检索、文档、资源库、数据源、抓取记录与订阅。

**认证**：请求头 `Authorization: Bearer 令牌`（`techscout token create 名称` 生成），或浏览器登录后的会话
（写操作另需 `X-CSRF-Token`）。没有认证的请求一律 `401`。

**错误**：所有错误都是同一形状 `{"code", "message", "field", "details"}`：`code` 是稳定的机器可读代码，
`message` 是中文说明，`field` 指出出错的参数。"""


def _templates(ctx_getter: Callable[[], Web]) -> Jinja2Templates:
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    env = templates.env
    env.globals.update(
        CONTENT_TYPES=labels.CONTENT_TYPES,
        LIBRARIES=labels.LIBRARIES,
        FACETS=labels.FACETS,
        FILTER_PARAMS=FILTER_PARAMS,
        MODES=labels.MODES,
        ROLES=labels.ROLES,
        url_with=url_with,
        toggle_filter_url=toggle_filter_url,
        month_range=month_range,
        search_url=search_url,
        source_title=lambda name: ctx_getter().source_title(name),
        meter=charts.meter,
        channel=labels.channel,
        sub_schedule=labels.schedule_of_subscription,
        weekday_choices=labels.WEEKDAY_CHOICES,
    )
    env.filters.update(
        safe_url=safe_url,
        when=clock.local_text,
        day=clock.local_date,
        ctype=lambda v: labels.CONTENT_TYPES.get(str(v), str(v or "")),
        run_status=labels.run_status,
        error_kind=labels.error_kind,
        evidence_key=labels.evidence_key,
        evidence_item=labels.evidence_item,
        field_name=labels.field_name,
        schedule=labels.schedule_text,
        delivery_state=lambda v: labels.DELIVERY_STATES.get(str(v), str(v or "")),
        pct=lambda v: "—" if v is None else f"{float(v) * 100:.0f}%",
    )
    return templates


def create_app(settings: Settings, backend: Backend | None = None) -> FastAPI:
    """The web UI and API over ``backend`` (default: the backend the settings name, opened now)."""
    if backend is None:
        from search.backends import open_backend

        backend = open_backend(settings)
    if settings.backend == "embedded":
        private_file(settings.paths.store)  # password hashes and notification URLs: owner only
    holder: dict[str, Web] = {}
    ctx = Web(
        settings=settings,
        backend=backend,
        secret=load_secret(settings.secret_key, settings.data_dir),
        templates=_templates(lambda: holder["web"]),
        vocabulary=Vocabulary.from_settings(settings),
    )
    holder["web"] = ctx
    app = FastAPI(
        title="techscout 科技资源监测 API",
        description=DESCRIPTION,
        version="0.2.0",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        openapi_tags=[
            {"name": "检索", "description": "全文检索、筛选、分面"},
            {"name": "文档", "description": "单篇文档与修订记录"},
            {"name": "资源库", "description": "问题库、项目库、人才库的条目"},
            {"name": "订阅", "description": "保存的检索：新文档按订阅推送（Webhook、邮件、钉钉、企业微信、飞书）"},
            {"name": "数据源", "description": "数据源配置与抓取记录"},
        ],
    )
    app.state.web = ctx
    app.state.backend = backend
    app.state.settings = settings
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    for module in (account, search, documents, libraries, sources, subscriptions, overview, apidocs):
        app.include_router(module.router)
    app.include_router(build_router(ctx.vocabulary))
    app.openapi = lambda: openapi_schema(app)  # type: ignore[method-assign]

    @app.get("/openapi.json", include_in_schema=False)
    def openapi(principal: dict[str, Any] = Depends(api_user)) -> JSONResponse:
        return JSONResponse(app.openapi())

    @app.middleware("http")
    async def session_middleware(request: Request, call_next: Callable[[Request], Any]) -> Response:
        started = time.perf_counter()
        session = read_session(ctx.secret, request.cookies.get(COOKIE))
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
                sign_session(ctx.secret, out),
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
            response.headers.setdefault("Content-Security-Policy", CSP)
        return response

    @app.exception_handler(LoginRequired)
    async def _login_redirect(request: Request, exc: LoginRequired) -> Response:
        return RedirectResponse("/login?" + urlencode({"next": exc.next_url}), status_code=303)

    async def _error(request: Request, exc: Exception) -> Response:
        answer = error_response(request, exc)
        if answer is not None:
            return answer
        status, title, message = page_message(exc)
        user = session_user(request, ctx) if hasattr(request.state, "session") else None
        return ctx.render(request, "message.html", user, status, title=title, message=message)

    for kind in (ApiError, TechscoutError, RequestValidationError, StarletteHTTPException, Exception):
        app.add_exception_handler(kind, _error)
    return app
