"""Subscriptions (saved searches that push new documents): list, create, edit, delete, and the delivery log.

Staff see and change their own; admins everybody's. Validation is the one of ``search.alerts``
(:func:`search.web.services.validate_subscription`), the same the API and the CLI use."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

import search.web.labels as labels
import search.web.services as services
from core.errors import TechscoutError
from search.alerts.channels import channel_key
from search.backends.base import Backend
from search.web.deps import Web, form_with_csrf, page_user, web
from search.web.errors import ApiError, body_of
from search.web.forms import PARAM_FILTERS, subscription_from_form

router = APIRouter(include_in_schema=False)
LOG_SHOWN = 50


def visible_subscriptions(backend: Backend, user: dict[str, Any]) -> list[dict[str, Any]]:
    """The subscriptions ``user`` may see: an admin every one, anybody else their own."""
    where = None if user["role"] == "admin" else {"owner": user["name"]}
    return backend.list_records("subscriptions", where, limit=10_000)


def owned_subscription(backend: Backend, user: dict[str, Any], sub_id: str) -> dict[str, Any] | None:
    """The subscription when ``user`` may change it (an admin any, anybody else their own), else None."""
    sub = backend.get_record("subscriptions", sub_id) if 0 < len(sub_id) <= 64 else None
    if sub is None or (user["role"] != "admin" and sub.get("owner") != user["name"]):
        return None
    return sub


def delivery_rows(backend: Backend, subs: list[dict[str, Any]], limit: int = LOG_SHOWN) -> list[dict[str, Any]]:
    """The newest deliveries of these subscriptions, each with its subscription's name."""
    names = {str(s["id"]): s.get("name", "") for s in subs}
    channels = {str(s["id"]): {channel_key(u): labels.channel(u) for u in s.get("notify") or []} for s in subs}
    out = []
    for d in backend.list_records("deliveries", None, limit=limit * 4):
        sub_id = str(d.get("subscription", ""))
        if sub_id in names:
            states = [(channels[sub_id].get(k, "已删除的渠道"), st) for k, st in (d.get("channels") or {}).items()]
            out.append(d | {"subscription_name": names[sub_id], "channel_states": states})
        if len(out) >= limit:
            break
    return out


def _page(request: Request, ctx: Web, user: dict[str, Any], current: dict[str, Any], status: int = 200,
          error: str = "", field: str | None = None) -> HTMLResponse:
    subs = visible_subscriptions(ctx.backend, user)
    return ctx.render(
        request, "subscriptions.html", user, status,
        subs=subs, current=current, error=error, error_field=field, deliveries=delivery_rows(ctx.backend, subs),
        vocabulary=ctx.vocabulary, sources=ctx.sources()[0],
    )


@router.get("/subscriptions", response_class=HTMLResponse)
def subscriptions_page(
    request: Request, edit: str = "", user: dict[str, Any] = Depends(page_user), ctx: Web = Depends(web)
) -> HTMLResponse:
    current = owned_subscription(ctx.backend, user, edit) if edit else None
    if current is None:
        qp = request.query_params
        current = {
            "name": qp.get("q", "")[:100],
            "query": qp.get("q", ""),
            "filters": {PARAM_FILTERS[p]: qp.getlist(p) for p in PARAM_FILTERS if qp.getlist(p)},
            "notify": [],
            "mode": "immediate",
            "digest_at": "daily@08:00",
            "min_relevance": ctx.vocabulary.relevance_threshold if qp.get("scitech") else None,
        }
    return _page(request, ctx, user, current)


@router.post("/subscriptions")
async def save_subscription(request: Request, user: dict[str, Any] = Depends(page_user), ctx: Web = Depends(web)) -> Response:
    data = await form_with_csrf(request, ctx)
    raw = subscription_from_form(data, ctx.vocabulary.relevance_threshold)
    owner, existing = user["name"], None
    if raw.get("id"):
        existing = owned_subscription(ctx.backend, user, str(raw["id"]))
        if existing is None:
            raise ApiError(404, "订阅不存在")
        owner = existing.get("owner") or owner
    try:
        record = services.validate_subscription(
            raw, owner=owner, allow_private=ctx.settings.allow_private_urls, existing=existing
        )
    except TechscoutError as exc:
        body = body_of(exc)
        return _page(request, ctx, user, raw, 400, error=body.message, field=body.field)
    ctx.backend.put_record("subscriptions", record["id"], record)
    return RedirectResponse("/subscriptions?saved=" + record["id"], status_code=303)


@router.post("/subscriptions/{sub_id}/delete")
async def delete_subscription(
    request: Request, sub_id: str, user: dict[str, Any] = Depends(page_user), ctx: Web = Depends(web)
) -> Response:
    await form_with_csrf(request, ctx)
    if owned_subscription(ctx.backend, user, sub_id) is None:
        raise ApiError(404, "订阅不存在")
    ctx.backend.delete_record("subscriptions", sub_id)
    return RedirectResponse("/subscriptions", status_code=303)
