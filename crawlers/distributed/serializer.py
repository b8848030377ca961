"""Requests travel through Redis as JSON (bytes as base64), never pickle.

This module is scrapy-redis' ``SCHEDULER_SERIALIZER`` (a module with ``loads`` and ``dumps``)."""

from __future__ import annotations

import base64
import json
from typing import Any


def _enc(obj: Any) -> Any:
    if isinstance(obj, bytes):
        return {"__b64__": base64.b64encode(obj).decode("ascii")}
    if isinstance(obj, dict):
        return {str(k.decode("latin-1") if isinstance(k, bytes) else k): _enc(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_enc(v) for v in obj]
    return obj


def _dec(obj: Any) -> Any:
    if isinstance(obj, dict):
        if set(obj) == {"__b64__"}:
            return base64.b64decode(obj["__b64__"])
        return {k: _dec(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_dec(v) for v in obj]
    return obj


class JsonSerializer:
    """scrapy-redis serializer (``loads``/``dumps``) of request dicts as JSON; bytes travel as base64."""

    @staticmethod
    def dumps(obj: Any) -> bytes:
        return json.dumps(_enc(obj), ensure_ascii=False, sort_keys=True).encode("utf-8")

    @staticmethod
    def loads(data: bytes | str) -> Any:
        return _dec(json.loads(data))


# scrapy-redis' SCHEDULER_SERIALIZER names a module with ``loads`` and ``dumps``: this one
loads = JsonSerializer.loads
dumps = JsonSerializer.dumps


loads = JsonSerializer.loads
dumps = JsonSerializer.dumps
