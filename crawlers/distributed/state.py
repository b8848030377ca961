"""The incremental state shared by every worker: known article URLs of a source in a Redis hash."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, fields
from typing import Any

from core.items import UrlState
from crawlers.distributed.connection import source_key


class RedisUrlStates:
    """Known article URLs of one source (canonical URL → :class:`UrlState`), shared through a Redis hash.

    Reads like the ``dict`` the spider takes as ``known``.
    """

    def __init__(self, server: Any, source: str) -> None:
        self.server = server
        self.key = source_key(source, "urls")

    def get(self, url: str, default: UrlState | None = None) -> UrlState | None:
        raw = self.server.hget(self.key, url)
        if raw is None:
            return default
        return url_state_from_json(raw)

    def __contains__(self, url: object) -> bool:
        return bool(self.server.hexists(self.key, str(url)))

    def __len__(self) -> int:
        return int(self.server.hlen(self.key))

    def record(self, states: Iterable[UrlState]) -> None:
        mapping = {s.url: json.dumps(asdict(s), ensure_ascii=False) for s in states}
        if mapping:
            self.server.hset(self.key, mapping=mapping)


def url_state_from_json(raw: bytes | str) -> UrlState:
    data = json.loads(raw)
    known = {f.name for f in fields(UrlState)}
    return UrlState(**{k: v for k, v in data.items() if k in known})

