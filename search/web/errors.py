"""The one shape of every error the API answers, and the handlers that give it.

Every 4xx of ``/api/*`` (and ``/openapi.json``) is ``{"code", "message", "field", "details"}``: a stable
machine-readable code (the project error's ``code``, or one of :data:`HTTP_CODES`), the message in Chinese, the
request field at fault when there is one, and for ``invalid-request`` the list of what was wrong. Pages get the
same message in an HTML page. A project error (:class:`~core.errors.TechscoutError`) is always a 4xx; anything
else is a bug, answered with a 500 that says so without details (and logged).
"""

from __future__ import annotations

import logging
import re
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from core.errors import BackendError, CrawlBusy, TechscoutError

log = logging.getLogger("techscout.web")

HTTP_CODES = {
    400: "bad-request",
    401: "unauthorized",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    409: "conflict",
    413: "too-large",
    415: "unsupported-media-type",
    422: "invalid-request",
    429: "too-many-requests",
    500: "internal",
    503: "unavailable",
}
HTTP_MESSAGES = {
    400: "请求无效",
    401: "需要登录或 API 令牌",
    403: "没有权限",
    404: "没有找到",
    405: "不支持这个请求方法",
    413: "请求过大",
    415: "请求体应为 JSON",
    422: "请求参数无效",
    429: "请求过多，请稍后再试",
    500: "服务器内部错误（已记录），请稍后再试",
    503: "服务暂不可用，请稍后再试",
}
_FIELD_PREFIX = re.compile(r"^([A-Za-z_][A-Za-z0-9_.\[\]]{0,40})[:：]\s*")


class ErrorDetail(BaseModel):
    """One thing wrong with a request."""

    loc: list[str | int] = Field(description="Where: `query`/`path`/`body` and the field", examples=[["query", "page"]])
    message: str = Field(description="What is wrong, in Chinese", examples=["应为不小于 1 的整数"])
    type: str = Field(description="Kind of the problem (pydantic's error type)", examples=["greater_than_equal"])


class ErrorBody(BaseModel):
    """Every error answer of the API has this shape."""

    code: str = Field(
        description="Stable machine-readable code: `query`, `url`, `blocked-private`, `subscription`, "
        "`crawl-busy`, `invalid-request`, `unauthorized`, `forbidden`, `not-found`, `too-many-requests` …",
        examples=["invalid-request"],
    )
    message: str = Field(description="What went wrong, in Chinese, for a person", examples=["请求参数无效：page 应为不小于 1 的整数"])
    field: str | None = Field(default=None, description="The request field at fault, when there is one", examples=["page"])
    details: list[ErrorDetail] = Field(default_factory=list, description="For `invalid-request`: every problem found")


class ApiError(Exception):
    """An error answer with a status and a code, raised by handlers and dependencies."""

    def __init__(
        self, status: int, message: str, *, code: str | None = None, field: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code or HTTP_CODES.get(status, "error")
        self.message = message
        self.field = field
        self.headers = headers


def error_status(exc: TechscoutError) -> int:
    """The HTTP status of a project error: busy → 409, a backend that cannot answer → 503, the rest → 400."""
    if isinstance(exc, CrawlBusy):
        return 409
    if isinstance(exc, BackendError):
        return 503
    return 400


def split_field(message: str) -> tuple[str | None, str]:
    """``"notify: 端口…"`` → ("notify", "端口…")."""
    m = _FIELD_PREFIX.match(message)
    if m:
        return m.group(1), message[m.end() :]
    return None, message


def body_of(exc: TechscoutError) -> ErrorBody:
    # project errors are written in Chinese where they are raised; a SubscriptionError names its field itself
    named = getattr(exc, "field", None)
    if named:
        return ErrorBody(code=exc.code, message=str(exc), field=str(named))
    field, text = split_field(str(exc))
    return ErrorBody(code=exc.code, message=(f"{field}：{text}" if field else text), field=field)


_PYDANTIC_ZH = {
    "missing": "缺少此项",
    "int_parsing": "应为整数",
    "int_from_float": "应为整数",
    "float_parsing": "应为数字",
    "bool_parsing": "应为 true 或 false",
    "string_too_long": "太长",
    "string_too_short": "太短",
    "greater_than_equal": "太小",
    "less_than_equal": "太大",
    "greater_than": "太小",
    "less_than": "太大",
    "literal_error": "不是允许的值",
    "enum": "不是允许的值",
    "date_from_datetime_parsing": "应为日期 YYYY-MM-DD",
    "date_parsing": "应为日期 YYYY-MM-DD",
    "date_from_datetime_inexact": "应为日期 YYYY-MM-DD",
    "string_pattern_mismatch": "格式不对",
    "json_invalid": "不是有效的 JSON",
    "model_attributes_type": "应为 JSON 对象",
    "dict_type": "应为 JSON 对象",
    "list_type": "应为列表",
    "string_type": "应为文字",
    "extra_forbidden": "不认识这个字段",
    "value_error": "值无效",
}


def _detail(err: dict[str, Any]) -> ErrorDetail:
    kind = str(err.get("type", "value_error"))
    ctx = err.get("ctx") or {}
    text = _PYDANTIC_ZH.get(kind, str(err.get("msg", "值无效")))
    if kind in ("greater_than_equal", "greater_than") and ("ge" in ctx or "gt" in ctx):
        text = f"应不小于 {ctx.get('ge', ctx.get('gt'))}"
    elif kind in ("less_than_equal", "less_than") and ("le" in ctx or "lt" in ctx):
        text = f"应不大于 {ctx.get('le', ctx.get('lt'))}"
    elif kind == "string_too_long" and "max_length" in ctx:
        text = f"不能超过 {ctx['max_length']} 个字符"
    elif kind in ("literal_error", "enum") and "expected" in ctx:
        text = f"应为 {ctx['expected']} 之一"
    elif kind == "value_error" and err.get("msg"):
        text = str(err["msg"]).removeprefix("Value error, ")
    loc = [x if isinstance(x, int) else str(x) for x in err.get("loc", ())]
    return ErrorDetail(loc=loc, message=text, type=kind)


def validation_body(exc: RequestValidationError) -> ErrorBody:
    details = [_detail(e) for e in exc.errors()]
    first = details[0] if details else None
    names = [x for x in (first.loc if first else []) if isinstance(x, str) and x not in ("query", "body", "path", "header", "cookie")]
    field = names[-1] if names else None
    message = HTTP_MESSAGES[422] + (f"：{field} {first.message}" if first else "")
    return ErrorBody(code="invalid-request", message=message, field=field, details=details)


def json_error(status: int, body: ErrorBody, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(body.model_dump(), status_code=status, headers=headers)


def wants_json(request: Request) -> bool:
    path = request.url.path
    return path.startswith("/api/") or path == "/openapi.json"


def error_response(request: Request, exc: Exception) -> Response | None:
    """The JSON answer for ``exc`` on an API path (None on a page path: the page handler renders it)."""
    if not wants_json(request):
        return None
    if isinstance(exc, ApiError):
        return json_error(exc.status, ErrorBody(code=exc.code, message=exc.message, field=exc.field), exc.headers)
    if isinstance(exc, TechscoutError):
        return json_error(error_status(exc), body_of(exc))
    if isinstance(exc, RequestValidationError):
        return json_error(422, validation_body(exc))
    if isinstance(exc, StarletteHTTPException):
        text = exc.detail if isinstance(exc.detail, str) and exc.detail and exc.detail[0] > "~" else ""
        if exc.status_code == 400 and "parsing the body" in str(exc.detail):
            text = "请求体不是有效的 JSON"
        return json_error(
            exc.status_code,
            ErrorBody(code=HTTP_CODES.get(exc.status_code, "error"), message=text or HTTP_MESSAGES.get(exc.status_code, "请求失败")),
            dict(exc.headers or {}),
        )
    log.exception("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    return json_error(500, ErrorBody(code="internal", message=HTTP_MESSAGES[500]))


def page_message(exc: Exception) -> tuple[int, str, str]:
    """(status, title, message) of the HTML page that shows ``exc``."""
    if isinstance(exc, ApiError):
        return exc.status, HTTP_MESSAGES.get(exc.status, "请求失败"), exc.message
    if isinstance(exc, TechscoutError):
        return error_status(exc), "请求无效", body_of(exc).message
    if isinstance(exc, RequestValidationError):
        return 422, "请求参数无效", validation_body(exc).message
    if isinstance(exc, StarletteHTTPException):
        text = exc.detail if isinstance(exc.detail, str) and exc.detail and exc.detail[0] > "~" else ""
        title = {404: "页面不存在", 405: "不支持这个请求方法"}.get(exc.status_code, HTTP_MESSAGES.get(exc.status_code, "请求失败"))
        return exc.status_code, title, text or title
    log.exception("unexpected error", exc_info=exc)
    return 500, "服务器内部错误", HTTP_MESSAGES[500]
