"""The JSON API (``/api/*``) and its OpenAPI description.

Every endpoint needs ``Authorization: Bearer TOKEN`` (``techscout token create NAME``) or a logged-in browser
session (then writes need the page's CSRF token in ``X-CSRF-Token``). Every parameter is parsed once, by its
declared type and bounds (the schema says exactly what is accepted); every error has the one shape of
:class:`~search.web.errors.ErrorBody`. ``/openapi.json`` is served behind the same authentication.
"""

# no "from __future__ import annotations": the enums are built at run time and used in annotations

import re
from datetime import date
from enum import Enum
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, FastAPI
from fastapi import Path as PathParam
from fastapi import Query as QueryParam
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

import search.web.services as services
from core.errors import TechscoutError
from core.values import SAFE_ID, parse_bool
from search.web.deps import Vocabulary, Web, api_user, web
from search.web.errors import ApiError, ErrorBody, body_of
from search.web.forms import MAX_PAGE, MAX_QUERY, MAX_SIZE, QUERY_TEXT, build_query
from search.web.labels import LIBRARIES
from search.web.pages.libraries import list_entries
from search.web.pages.subscriptions import owned_subscription, visible_subscriptions

ID_PATTERN = SAFE_ID.pattern
Bool = Annotated[bool, BeforeValidator(parse_bool)]  # "1 true yes on / 0 false no off", any case: one parser


def _iso_date(value: Any) -> Any:
    """Only ``YYYY-MM-DD`` is a date (pydantic alone would also take a number of seconds since 1970)."""
    if isinstance(value, str) and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        raise ValueError("应为日期 YYYY-MM-DD")
    if not isinstance(value, str | date):
        raise ValueError("应为日期 YYYY-MM-DD")
    return value


IsoDate = Annotated[date, BeforeValidator(_iso_date)]


def _error(description: str) -> dict[str, Any]:
    return {"model": ErrorBody, "description": description}


AUTH_ERRORS: dict[int | str, dict[str, Any]] = {
    401: _error("没有令牌或会话，或令牌无效（`code`: `unauthorized`）"),
    403: _error("没有权限，或会话写操作缺少 `X-CSRF-Token`（`code`: `forbidden` / `csrf`）"),
    422: _error("参数不符合本描述（`code`: `invalid-request`，`details` 列出每一处）"),
}


# -- models ---------------------------------------------------------------------------------------------------------
class HitOut(BaseModel):
    id: str = Field(examples=["3f2a9c0d1e4b5a6c7d8e"])
    url: str = Field(examples=["https://www.most.gov.cn/xxgk/xinxifenlei/fdzdgknr/fgzc/202501/t20250110_1.html"])
    title: str = Field(examples=["关于印发《人工智能产业发展行动计划》的通知"])
    published: str | None = Field(description="发布时间（ISO 8601，带时区）", examples=["2025-01-10T09:00:00+08:00"])
    source: str = Field(description="数据源名称", examples=["most-policy"])
    snippet: str = Field(description="摘要：命中词以 `<mark>` 标出，其余已转义", examples=["支持<mark>人工智能</mark>产业发展…"])
    score: float
    content_type: str = Field(description="类型代码（见 `type` 参数）", examples=["policy"])
    domains: list[str] = Field(examples=[["电子信息"]])
    region: str | None = Field(examples=["北京市"])
    cluster_id: str = Field(description="近似重复（转载）簇的编号")
    cluster_size: int = Field(ge=1, description="簇内文档数（1 表示没有转载）")


class FacetValue(BaseModel):
    value: str
    count: int = Field(ge=0)


class SearchOut(BaseModel):
    """与 `techscout search --json` 相同的结果。"""

    total: int = Field(ge=0, description="命中总数（collapse=true 时为簇数）")
    hits: list[HitOut]
    facets: dict[str, list[FacetValue]] = Field(default_factory=dict, description="只在请求分面时出现")
    facets_sampled: bool = Field(default=False, description="分面计数由抽样估计（命中极多时）")


class DocumentOut(BaseModel):
    """一篇文档（`Article` 的全部字段）及其修订记录。"""

    model_config = ConfigDict(extra="allow")
    id: str
    url: str
    source: str
    fetched: str = Field(description="抓取时间（ISO 8601，UTC）")
    title: str
    text: str
    published: str | None = None
    content_type: str = ""
    scitech_relevant: bool | None = Field(default=None, description="是否科技相关")
    relevance: float | None = None
    domains: list[str] = Field(default_factory=list)
    region: str | None = None
    libraries: list[str] = Field(default_factory=list, description="入库：problem（问题库）、project（项目库）、talent（人才库）")
    cluster_id: str = ""
    revisions: list[dict[str, Any]] = Field(default_factory=list)


class EntryOut(BaseModel):
    """资源库条目；字段随资源库不同（need、organization、owner、stage、key_numbers、title、affiliation …）。"""

    model_config = ConfigDict(extra="allow")
    id: str = Field(examples=["problem-4c1d2e3f4a5b6c7d8e9f"])
    library: str = Field(description="problem（问题库）、project（项目库）、talent（人才库）", examples=["problem"])
    name: str = Field(examples=["工业视觉检测技术需求"])
    doc_ids: list[str] = Field(default_factory=list)


class SubscriptionOut(BaseModel):
    model_config = ConfigDict(extra="allow")
    id: str = Field(examples=["a1b2c3d4e5f60718"])
    name: str = Field(examples=["人工智能政策"])
    owner: str = Field(default="", examples=["wang"])
    query: str = Field(default="", examples=["人工智能 OR 大模型"])
    filters: dict[str, list[str]] = Field(default_factory=dict, examples=[{"content_type": ["policy"]}])
    notify: list[str] = Field(default_factory=list)
    mode: str = Field(default="immediate", description="immediate（即时推送）或 digest（定时摘要）")
    digest_at: str | None = Field(default=None, examples=["daily@08:00"])
    min_relevance: float | None = None
    created: str | None = Field(default=None, description="创建时间：只推送此后抓取的文档")
    enabled: bool = True


class DeletedOut(BaseModel):
    deleted: bool


class RunOut(BaseModel):
    """一次抓取的记录：状态、抓取页数、新增、更新、重复、按类别的错误数与示例、正文提取健康度。"""

    model_config = ConfigDict(extra="allow")
    id: str
    source: str
    status: str = Field(default="", description="ok（成功）、partial（部分成功）、failed（失败）…")
    started: str | None = None
    errors: dict[str, int] = Field(default_factory=dict, examples=[{"http-404": 2, "timeout": 1}])


class SourceOut(BaseModel):
    model_config = ConfigDict(extra="allow")
    name: str = Field(examples=["most-policy"])
    title: str | None = Field(default=None, examples=["科学技术部 · 政策文件"])
    start_urls: list[str]
    schedule: str = Field(examples=["every 6h"])
    last_run: RunOut | None = None


def _code(value: Any) -> str:
    """The code of an enum member (or the value itself)."""
    return str(getattr(value, "value", value))


def _enum(name: str, values: dict[str, str]) -> Any:
    """A string enum whose schema lists the codes and says their Chinese names."""
    enum = Enum(name, {f"v{i}": code for i, code in enumerate(values)}, type=str)  # type: ignore[misc]
    enum.__doc__ = "；".join(f"`{code}` {label}" for code, label in values.items() if code != label) or name
    return enum


def build_router(vocabulary: Vocabulary) -> APIRouter:
    """The API router; enums (content types, domains, regions, libraries) come from the taxonomy in use."""
    ContentType = _enum("ContentType", vocabulary.content_types)
    Domain = _enum("Domain", {d: d for d in vocabulary.domains})
    Region = _enum("Region", {r: r for r in vocabulary.regions})
    Library = _enum("Library", LIBRARIES)
    type_names = dict(vocabulary.content_types)
    filter_values = {**type_names, **{v: v for v in type_names.values()}}
    FilterType = _enum("FilterType", filter_values)
    FilterLibrary = _enum("FilterLibrary", {**LIBRARIES, **{v: v for v in LIBRARIES.values()}})

    class SubscriptionFilters(BaseModel):
        """筛选条件：类型和资源库可用代码或中文名。"""

        model_config = ConfigDict(extra="forbid")
        content_type: list[FilterType] = Field(default_factory=list, max_length=20)  # type: ignore[valid-type]
        domains: list[Domain] = Field(default_factory=list, max_length=20)  # type: ignore[valid-type]
        region: list[Region] = Field(default_factory=list, max_length=40)  # type: ignore[valid-type]
        source: list[Annotated[str, Field(pattern=ID_PATTERN)]] = Field(default_factory=list, max_length=50)
        libraries: list[FilterLibrary] = Field(default_factory=list, max_length=3)  # type: ignore[valid-type]

    class SubscriptionIn(BaseModel):
        """新建（不带 `id` 或带新的 `id`）或修改（带已有的 `id`）一个订阅。"""

        model_config = ConfigDict(
            extra="forbid",
            json_schema_extra={
                "examples": [
                    {
                        "name": "人工智能政策",
                        "query": "人工智能 OR 大模型",
                        "filters": {"content_type": ["policy"], "region": ["北京市"]},
                        "notify": ["https://hooks.example.com/techscout", "mailtos://user:pass@smtp.example.com?to=li@example.com"],
                        "mode": "digest",
                        "digest_at": "daily@08:00",
                    }
                ]
            },
        )
        id: str | None = Field(default=None, pattern=ID_PATTERN, description="字母、数字、`.`、`_`、`-`，至多 64 个")
        name: str = Field(min_length=1, max_length=100, pattern=r"\S", description="订阅名称")
        query: str = Field(default="", max_length=MAX_QUERY, pattern=QUERY_TEXT, description="检索式（与检索页相同的语法）；为空时只按筛选条件")
        filters: SubscriptionFilters = Field(default_factory=SubscriptionFilters)
        notify: list[Annotated[str, Field(max_length=2048, pattern=r"^(https?|jsons?|xmls?|forms?|mailtos?|dingtalk|wecombot|feishu|lark)://")]] = Field(
            min_length=1, max_length=10,
            description="通知渠道，每项一个地址：`https://…` Webhook（推送 JSON）、`mailto://` / `mailtos://` 邮件、"
            "`dingtalk://` 钉钉、`wecombot://` 企业微信、`feishu://` / `lark://` 飞书；不允许内网和本机地址",
        )
        mode: Literal["immediate", "digest"] = Field(default="immediate", description="immediate（即时推送）或 digest（定时摘要）")
        digest_at: str | None = Field(
            default=None, max_length=20,
            pattern=r"^(?:daily@|weekly@(?:mon|tue|wed|thu|fri|sat|sun) )?\d{1,2}:\d{2}$",
            description="摘要时间（北京时间）：`08:00`、`daily@08:00` 或 `weekly@mon 08:00`",
        )
        min_relevance: float | None = Field(default=None, ge=0, le=1, strict=True, description="只推送科技相关度不低于此值的文档")

    router = APIRouter(prefix="/api", responses=AUTH_ERRORS)

    @router.get(
        "/search", tags=["检索"], operation_id="search", response_model=SearchOut,
        summary="检索（与 `techscout search --json` 相同）",
        responses={400: _error("检索式无法理解（如引号不成对）或日期区间颠倒（`code`: `query`）")},
    )
    def api_search(
        q: Annotated[str, QueryParam(max_length=MAX_QUERY, pattern=QUERY_TEXT, description="检索式（不含控制字符）：词之间为“且”；\"短语\"；A OR B；-排除；简繁体均可", examples=["人工智能 芯片"])] = "",
        type: Annotated[list[ContentType] | None, QueryParam(description="类型（可重复，任一即可）")] = None,  # type: ignore[valid-type]  # noqa: A002
        source: Annotated[list[Annotated[str, Field(pattern=ID_PATTERN)]] | None, QueryParam(description="数据源名称（可重复）")] = None,
        domain: Annotated[list[Domain] | None, QueryParam(description="技术领域（可重复）")] = None,  # type: ignore[valid-type]
        region: Annotated[list[Region] | None, QueryParam(description="地区（可重复）")] = None,  # type: ignore[valid-type]
        library: Annotated[list[Library] | None, QueryParam(description="入库（可重复）")] = None,  # type: ignore[valid-type]
        since: Annotated[IsoDate | None, QueryParam(description="发布日期不早于（YYYY-MM-DD）", examples=["2025-01-01"])] = None,
        until: Annotated[IsoDate | None, QueryParam(description="发布日期不晚于（YYYY-MM-DD）", examples=["2025-12-31"])] = None,
        sort: Annotated[Literal["relevance", "date"], QueryParam(description="relevance（相关度）或 date（日期，新的在前）")] = "relevance",
        page: Annotated[int, QueryParam(ge=1, le=MAX_PAGE, description="页码，从 1 开始")] = 1,
        size: Annotated[int, QueryParam(ge=0, le=MAX_SIZE, description="每页条数（0 只返回总数）")] = 10,
        collapse: Annotated[Bool, QueryParam(description="转载合并：每个近似重复簇只返回一条")] = False,
        scitech: Annotated[Bool, QueryParam(description="只要科技相关的文档")] = False,
        principal: dict[str, Any] = Depends(api_user),
        ctx: Web = Depends(web),
    ) -> JSONResponse:
        filters = {
            "type": [_code(t) for t in type or []],
            "source": list(source or []),
            "domain": [_code(d) for d in domain or []],
            "region": [_code(r) for r in region or []],
            "library": [_code(lib) for lib in library or []],
        }
        query = build_query(
            q=q, filters=filters, since=since, until=until, sort=sort, page=page, size=size, collapse=collapse,
            scitech=scitech, relevance_threshold=ctx.vocabulary.relevance_threshold,
        )
        return JSONResponse(ctx.backend.search(query).to_json())

    @router.get(
        "/documents/{doc_id}", tags=["文档"], operation_id="get_document", response_model=DocumentOut,
        summary="一篇文档（含修订记录）", responses={404: _error("没有这篇文档（`code`: `not-found`）")},
    )
    def api_document(
        doc_id: Annotated[str, PathParam(pattern=ID_PATTERN, description="文档编号（检索结果的 `id`）")],
        principal: dict[str, Any] = Depends(api_user),
        ctx: Web = Depends(web),
    ) -> JSONResponse:
        article = ctx.backend.get(doc_id)
        if article is None:
            raise ApiError(404, "文档不存在", field="doc_id")
        return JSONResponse(article.to_dict() | {"revisions": ctx.backend.revisions(doc_id)})

    @router.get("/entries", tags=["资源库"], operation_id="list_entries", response_model=list[EntryOut],
                summary="资源库条目（问题库 / 项目库 / 人才库）")
    def api_entries(
        library: Annotated[Library | None, QueryParam(description="资源库；不填为全部")] = None,  # type: ignore[valid-type]
        q: Annotated[str, QueryParam(max_length=200, description="按名称、单位筛选")] = "",
        domain: Annotated[Domain | None, QueryParam(description="领域")] = None,  # type: ignore[valid-type]
        region: Annotated[Region | None, QueryParam(description="地区")] = None,  # type: ignore[valid-type]
        limit: Annotated[int, QueryParam(ge=0, le=10_000, description="最多返回条数")] = 100,
        principal: dict[str, Any] = Depends(api_user),
        ctx: Web = Depends(web),
    ) -> JSONResponse:
        rows = list_entries(
            ctx.backend, _code(library) if library else None, q, _code(domain) if domain else "",
            _code(region) if region else "",
        )
        return JSONResponse(rows[:limit])

    @router.get("/subscriptions", tags=["订阅"], operation_id="list_subscriptions", response_model=list[SubscriptionOut],
                summary="订阅列表（工作人员：自己的；管理员：全部）")
    def api_subscriptions(principal: dict[str, Any] = Depends(api_user), ctx: Web = Depends(web)) -> JSONResponse:
        return JSONResponse(visible_subscriptions(ctx.backend, principal))

    @router.post(
        "/subscriptions", tags=["订阅"], operation_id="save_subscription", response_model=SubscriptionOut,
        status_code=201, summary="新建或修改订阅",
        responses={
            201: {
                "description": "保存的订阅",
                "links": {
                    "DeleteSubscription": {"operationId": "delete_subscription", "parameters": {"sub_id": "$response.body#/id"}},
                },
            },
            400: _error("请求体不是有效的 JSON（`code`: `bad-request`）"),
            404: _error("要修改的订阅不存在或不属于你（`code`: `not-found`）"),
            422: _error("订阅无效：`field` 指出哪一项（`code`: `subscription`、`url`、`blocked-private`、`query` 或 `invalid-request`）"),
        },
    )
    def api_save_subscription(
        body: SubscriptionIn, principal: dict[str, Any] = Depends(api_user), ctx: Web = Depends(web)
    ) -> JSONResponse:
        owner, existing = principal["name"], None
        if body.id:
            existing = owned_subscription(ctx.backend, principal, body.id)
            if existing is None and ctx.backend.get_record("subscriptions", body.id) is not None:
                raise ApiError(404, "订阅不存在", field="id")
            owner = (existing or {}).get("owner") or owner
        raw = body.model_dump(exclude_none=True)
        raw["filters"] = {k: [_code(v) for v in vs] for k, vs in raw["filters"].items() if vs}
        try:
            record = services.validate_subscription(
                raw, owner=owner, allow_private=ctx.settings.allow_private_urls, existing=existing
            )
        except TechscoutError as exc:
            err = body_of(exc)
            raise ApiError(422, err.message, code=err.code, field=err.field) from None
        ctx.backend.put_record("subscriptions", record["id"], record)
        return JSONResponse(record, status_code=201)

    @router.delete(
        "/subscriptions/{sub_id}", tags=["订阅"], operation_id="delete_subscription", response_model=DeletedOut,
        summary="删除订阅", responses={404: _error("订阅不存在或不属于你（`code`: `not-found`）")},
    )
    def api_delete_subscription(
        sub_id: Annotated[str, PathParam(pattern=ID_PATTERN, description="订阅编号")],
        principal: dict[str, Any] = Depends(api_user),
        ctx: Web = Depends(web),
    ) -> JSONResponse:
        if owned_subscription(ctx.backend, principal, sub_id) is None:
            raise ApiError(404, "订阅不存在", field="sub_id")
        return JSONResponse({"deleted": ctx.backend.delete_record("subscriptions", sub_id)})

    @router.get("/runs", tags=["数据源"], operation_id="list_runs", response_model=list[RunOut], summary="抓取记录（新的在前）")
    def api_runs(
        source: Annotated[str | None, QueryParam(pattern=ID_PATTERN, description="只看这个数据源")] = None,
        limit: Annotated[int, QueryParam(ge=0, le=1000, description="最多返回条数")] = 20,
        principal: dict[str, Any] = Depends(api_user),
        ctx: Web = Depends(web),
    ) -> JSONResponse:
        return JSONResponse(ctx.backend.list_records("runs", {"source": source} if source else None, limit=limit))

    @router.get(
        "/sources", tags=["数据源"], operation_id="list_sources", response_model=list[SourceOut],
        summary="数据源、计划和最近一次抓取", responses={503: _error("数据源配置读不出来（`code`: `config`）")},
    )
    def api_sources(principal: dict[str, Any] = Depends(api_user), ctx: Web = Depends(web)) -> JSONResponse:
        srcs, error = ctx.sources()
        if error:
            raise ApiError(503, error, code="config")
        out = []
        for s in srcs:
            last = ctx.backend.list_records("runs", {"source": s.name}, limit=1)
            out.append(s.to_json() | {"schedule": s.schedule or ctx.settings.schedule, "last_run": last[0] if last else None})
        return JSONResponse(out)

    return router


def openapi_schema(app: FastAPI) -> dict[str, Any]:
    """The app's OpenAPI schema: FastAPI's, with the bearer scheme declared, every 422 answered with
    :class:`ErrorBody` (not FastAPI's default), and no trace of the default validation-error models."""
    if app.openapi_schema:
        return app.openapi_schema
    spec = get_openapi(
        title=app.title, version=app.version, description=app.description, routes=app.routes, tags=app.openapi_tags,
    )
    schemas = spec.setdefault("components", {}).setdefault("schemas", {})
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    error_ref = {"$ref": "#/components/schemas/ErrorBody"}
    for ops in spec.get("paths", {}).values():
        for op in ops.values():
            for resp in op.get("responses", {}).values():
                content = resp.get("content", {}).get("application/json")
                if content and "HTTPValidationError" in str(content.get("schema", "")):
                    content["schema"] = error_ref
                if resp.get("description") == "Successful Response":
                    resp["description"] = "成功"
            for param in op.get("parameters", []):
                schema = param.get("schema", {})
                alternatives = [s for s in schema.get("anyOf", []) if s.get("type") != "null"]
                if len(alternatives) == 1 and len(schema["anyOf"]) == 2:  # optional: absent, never null
                    rest = {k: v for k, v in schema.items() if k != "anyOf"}
                    param["schema"] = alternatives[0] | rest
    spec["components"]["securitySchemes"] = {
        "bearerAuth": {
            "type": "http",
            "scheme": "bearer",
            "description": "API 令牌：`techscout token create 名称` 生成，以 `tsk_` 开头",
        },
        "sessionCookie": {
            "type": "apiKey",
            "in": "cookie",
            "name": "techscout_session",
            "description": "浏览器登录后的会话（写操作另需 `X-CSRF-Token` 请求头）",
        },
    }
    spec["security"] = [{"bearerAuth": []}, {"sessionCookie": []}]
    app.openapi_schema = spec
    return spec
