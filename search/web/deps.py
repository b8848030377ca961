"""What every router depends on: the app's context (settings, backend, templates, vocabularies), who is asking
(a page session or an API token), CSRF-checked forms, and rendering a page.

Routers get the context with ``Depends(web)`` and the caller with ``Depends(page_user)``, ``Depends(admin_user)``
or ``Depends(api_user)``; nothing else reads ``app.state``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

import search.web.labels as labels
from core import clock
from core.errors import TechscoutError
from core.settings import Settings
from search import users
from search.backends.base import Backend
from search.web.auth import LoginThrottle, check_csrf, csrf_token
from search.web.errors import ApiError

HERE = Path(__file__).parent
SOURCES_TTL_S = 30.0


class LoginRequired(Exception):
    """Raised by page dependencies without a session: answered with a redirect to the login page."""

    def __init__(self, next_url: str) -> None:
        self.next_url = next_url


@dataclass(frozen=True)
class Vocabulary:
    """The codes the API and the forms accept, each with its Chinese name (from the taxonomy)."""

    content_types: dict[str, str]
    domains: list[str]
    regions: list[str]
    relevance_threshold: float

    @classmethod
    def from_settings(cls, settings: Settings) -> Vocabulary:
        from pipelines.taxonomy import NATIONAL, taxonomy_for

        tax = taxonomy_for(settings)
        types = {name: rule.label or labels.CONTENT_TYPES.get(name, name) for name, rule in tax.content_types.items()}
        for code, name in labels.CONTENT_TYPES.items():
            types.setdefault(code, name)
        return cls(
            content_types=types,
            domains=list(tax.domains),
            regions=[NATIONAL, *tax.regions],
            relevance_threshold=float(tax.relevance_threshold),
        )


@dataclass
class Web:
    """The app's context: built once by :func:`search.web.app.create_app`."""

    settings: Settings
    backend: Backend
    secret: bytes
    templates: Jinja2Templates
    vocabulary: Vocabulary
    throttle: LoginThrottle = field(default_factory=LoginThrottle)
    _sources: tuple[float, list[Any], str, dict[str, str]] = (0.0, [], "", {})

    # -- sources ------------------------------------------------------------------------------------------------
    def sources(self) -> tuple[list[Any], str]:
        """The configured sources (enabled or not) and the error that stopped reading them ("" when none)."""
        at, srcs, error, _ = self._sources
        if time.monotonic() - at > SOURCES_TTL_S or not at:
            from crawlers.sources import load_sources

            try:
                srcs, error = load_sources(self.settings.sources_path, include_disabled=True), ""
            except TechscoutError as exc:
                srcs, error = [], str(exc)
            self._sources = (time.monotonic(), srcs, error, {s.name: s.title or s.name for s in srcs})
        return self._sources[1], self._sources[2]

    def source_title(self, name: Any) -> str:
        self.sources()
        return self._sources[3].get(str(name), str(name))

    # -- pages ----------------------------------------------------------------------------------------------------
    def render(
        self, request: Request, template: str, user: dict[str, Any] | None, status: int = 200, **ctx: Any
    ) -> HTMLResponse:
        session = getattr(request.state, "new_session", None) or getattr(request.state, "session", None) or {}
        ctx |= {
            "user": user,
            "csrf": csrf_token(self.secret, session),
            "params": request.query_params,
            "path": request.url.path,
        }
        return self.templates.TemplateResponse(request, template, ctx, status_code=status)


def web(request: Request) -> Web:
    ctx: Web = request.app.state.web
    return ctx


def session_user(request: Request, ctx: Web) -> dict[str, Any] | None:
    """The logged-in user of this request's session (checked against the sessions kept server-side)."""
    if "user" in request.state._state:
        cached: dict[str, Any] | None = request.state.user
        return cached
    session = request.state.session
    name, sid = session.get("u"), session.get("sid")
    user = users.session_user(ctx.backend, str(name), str(sid)) if name and sid else None
    request.state.user = user
    return user


def page_user(request: Request, ctx: Web = Depends(web)) -> dict[str, Any]:
    """The logged-in user of a page; without one the browser is sent to the login page."""
    user = session_user(request, ctx)
    if user is None:
        raise LoginRequired(str(request.url.path) + ("?" + request.url.query if request.url.query else ""))
    return user


def admin_user(user: dict[str, Any] = Depends(page_user)) -> dict[str, Any]:
    if user["role"] != "admin":
        raise ApiError(403, "只有管理员可以这样做")
    return user


def api_user(request: Request, ctx: Web = Depends(web)) -> dict[str, Any]:
    """The caller of an API endpoint: a bearer token, or a page session (then writes need ``X-CSRF-Token``)."""
    auth = request.headers.get("authorization", "")
    if auth[:7].lower() == "bearer ":
        principal = users.check_token(ctx.backend, auth[7:].strip())
        if principal is None:
            raise ApiError(401, "无效的 API 令牌", headers={"WWW-Authenticate": "Bearer"})
        return principal
    user = session_user(request, ctx)
    if user is None:
        raise ApiError(401, "需要登录或 API 令牌（Authorization: Bearer 令牌）", headers={"WWW-Authenticate": "Bearer"})
    if request.method not in ("GET", "HEAD", "OPTIONS") and not check_csrf(
        ctx.secret, request.state.session, request.headers.get("x-csrf-token")
    ):
        raise ApiError(403, "CSRF 校验失败：会话写操作需要 X-CSRF-Token 请求头", code="csrf")
    return user


async def form_with_csrf(request: Request, ctx: Web) -> dict[str, list[str]]:
    """The posted form's fields (each a list of values) when its CSRF token is the session's, else 403."""
    form = await request.form()
    if not check_csrf(ctx.secret, request.state.session, str(form.get("csrf") or "")):
        raise ApiError(403, "CSRF 校验失败：请刷新页面后重试", code="csrf")
    data: dict[str, list[str]] = {}
    for key, value in form.multi_items():
        if isinstance(value, str):
            data.setdefault(key, []).append(value)
    return data


def one(data: dict[str, list[str]], key: str, default: str = "") -> str:
    return (data.get(key) or [default])[0]


def now_text() -> str:
    return clock.local_text(clock.now_iso())
