"""Login, logout and password change.

The password check (scrypt, ~50 ms of CPU) runs in a worker thread limited to :data:`PASSWORD_CHECKS` at once,
so a burst of logins neither blocks the event loop nor takes every worker thread from the other pages.
"""

from __future__ import annotations

import secrets
from typing import Any

import anyio
from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from core.errors import UserError
from search import users
from search.web.auth import new_session
from search.web.deps import Web, form_with_csrf, one, page_user, web

router = APIRouter(include_in_schema=False)
#: password checks run at once (each holds ~16 MiB and one core for ~50 ms)
PASSWORD_CHECKS = 2
_limiter: anyio.CapacityLimiter | None = None


def _checks() -> anyio.CapacityLimiter:
    global _limiter
    if _limiter is None:
        _limiter = anyio.CapacityLimiter(PASSWORD_CHECKS)
    return _limiter


def _next(value: str) -> str:
    return value if value.startswith("/") and not value.startswith("//") and "\\" not in value else "/search"


def client_address(request: Request) -> str:
    return request.client.host if request.client else ""


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, next: str = "/search", ctx: Web = Depends(web)) -> HTMLResponse:
    return ctx.render(request, "login.html", None, next=_next(next))


@router.post("/login")
async def login(request: Request, ctx: Web = Depends(web)) -> Response:
    data = await form_with_csrf(request, ctx)
    name = one(data, "name").strip()
    password = one(data, "password")
    nxt = _next(one(data, "next", "/search"))
    client = client_address(request)
    wait = ctx.throttle.wait_seconds(name, client)
    if wait > 0:
        return ctx.render(
            request, "login.html", None, 429, next=nxt, name=name[:64],
            error=f"失败次数过多，请 {int(wait) + 1} 秒后再试",
        )
    user = await anyio.to_thread.run_sync(users.authenticate, ctx.backend, name, password, limiter=_checks())
    if user is None:
        ctx.throttle.failed(name, client)
        return ctx.render(request, "login.html", None, 401, next=nxt, error="用户名或密码错误", name=name[:64])
    ctx.throttle.succeeded(name, client)
    session_id = secrets.token_urlsafe(16)
    session = new_session(user, session_id)
    users.add_session(ctx.backend, user["name"], session_id, session["exp"])
    request.state.new_session = session
    return RedirectResponse(nxt, status_code=303)


@router.post("/logout")
async def logout(request: Request, ctx: Web = Depends(web)) -> Response:
    await form_with_csrf(request, ctx)
    session = request.state.session
    if session.get("u"):
        users.end_session(ctx.backend, str(session["u"]), str(session.get("sid") or ""))
    request.state.new_session = new_session()
    return RedirectResponse("/login", status_code=303)


@router.get("/account", response_class=HTMLResponse)
def account_page(request: Request, user: dict[str, Any] = Depends(page_user), ctx: Web = Depends(web)) -> HTMLResponse:
    return ctx.render(request, "account.html", user)


@router.post("/account/password")
async def change_password(
    request: Request, user: dict[str, Any] = Depends(page_user), ctx: Web = Depends(web)
) -> Response:
    data = await form_with_csrf(request, ctx)
    new = one(data, "new_password")
    if new != one(data, "new_password2"):
        return ctx.render(request, "account.html", user, 400, error="两次输入的新密码不一致")
    try:
        changed = await anyio.to_thread.run_sync(
            users.change_password, ctx.backend, user["name"], one(data, "password"), new, limiter=_checks()
        )
    except UserError as exc:
        return ctx.render(request, "account.html", user, 400, error=str(exc))
    if not changed:
        return ctx.render(request, "account.html", user, 400, error="当前密码不对")
    # every session of the user ended with the change; this browser gets a new one
    session_id = secrets.token_urlsafe(16)
    session = new_session(user, session_id)
    users.add_session(ctx.backend, user["name"], session_id, session["exp"])
    request.state.new_session = session
    return ctx.render(request, "account.html", user, notice="密码已修改；其他设备上的登录已全部退出。")
