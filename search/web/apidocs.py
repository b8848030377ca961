"""The API's documentation pages, behind the staff login: ``/docs`` (endpoints, parameters and a curl example
that works as written) and ``/docs/swagger`` (Swagger UI 5 served from the files the ``fastapi-offline`` package ships — no CDN —
under its own Content-Security-Policy). ``/openapi.json`` itself is in :mod:`search.web.app`."""

from __future__ import annotations

import mimetypes
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse, HTMLResponse

from search.web.deps import Web, page_user, web
from search.web.errors import ApiError
from search.web.forms import curl_url

router = APIRouter(include_in_schema=False)
#: the only files of the bundle the page loads
SWAGGER_FILES = ("swagger-ui.css", "swagger-ui-bundle.js", "favicon.png")
SWAGGER_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)


def swagger_dir() -> Path:
    """Swagger UI 5's files as the ``fastapi-offline`` package ships them (it supports OpenAPI 3.1)."""
    import fastapi_offline

    return Path(fastapi_offline.__file__).parent / "static"


def _schema_type(schema: dict[str, Any], spec: dict[str, Any]) -> str:
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = spec.get("components", {}).get("schemas", {}).get(name, {})
    if "anyOf" in schema:
        return " | ".join(_schema_type(s, spec) for s in schema["anyOf"] if s.get("type") != "null")
    if schema.get("type") == "array":
        return _schema_type(schema.get("items", {}), spec) + "[]"
    if "enum" in schema:
        values = list(map(str, schema["enum"]))
        return " | ".join(values) if len(values) <= 8 else f"{' | '.join(values[:6])} | …（共 {len(values)} 个）"
    bounds = [f"≥{schema['minimum']}" if "minimum" in schema else "", f"≤{schema['maximum']}" if "maximum" in schema else ""]
    kind = str(schema.get("format") or schema.get("type", ""))
    return kind + (" " + " ".join(b for b in bounds if b) if any(bounds) else "")


@router.get("/docs", response_class=HTMLResponse)
def docs_page(request: Request, user: dict[str, Any] = Depends(page_user), ctx: Web = Depends(web)) -> HTMLResponse:
    from search.web.api import openapi_schema

    spec = openapi_schema(request.app)
    endpoints = []
    for path, ops in spec.get("paths", {}).items():
        for method, op in ops.items():
            params = [
                {
                    "name": p["name"],
                    "where": p.get("in", ""),
                    "required": p.get("required", False),
                    "type": _schema_type(p.get("schema", {}), spec),
                    "description": p.get("description", ""),
                }
                for p in op.get("parameters", [])
            ]
            endpoints.append(
                {
                    "method": method.upper(),
                    "path": path,
                    "summary": op.get("summary", ""),
                    "params": params,
                    "body": "application/json" in (op.get("requestBody") or {}).get("content", {}),
                    "statuses": sorted(op.get("responses", {})),
                }
            )
    base = str(request.base_url)
    example = curl_url(base, "/api/search", [("q", "人工智能"), ("type", "policy"), ("size", "5")])
    return ctx.render(request, "api.html", user, endpoints=endpoints, curl_example=example)


@router.get("/docs/swagger", response_class=HTMLResponse)
def swagger_page(request: Request, user: dict[str, Any] = Depends(page_user), ctx: Web = Depends(web)) -> HTMLResponse:
    response = ctx.render(request, "swagger.html", user)
    response.headers["Content-Security-Policy"] = SWAGGER_CSP
    return response


@router.get("/docs/swagger/{name}")
def swagger_asset(name: str, user: dict[str, Any] = Depends(page_user)) -> FileResponse:
    if name not in SWAGGER_FILES:
        raise ApiError(404, "没有这个文件")
    path = swagger_dir() / name
    return FileResponse(path, media_type=mimetypes.guess_type(name)[0] or "application/octet-stream",
                        headers={"Cache-Control": "private, max-age=86400"})
