"""The Redis connection and the names of everything techscout keeps there (one place for every key)."""

from __future__ import annotations

import socket
import uuid
from typing import Any

from core.errors import ConfigError, DistributedError
from core.settings import Settings

PREFIX = "techscout"
JOBS_KEY = f"{PREFIX}:jobs"


def redis_url_of(crawler: Any) -> str:
    """The crawl's Redis URL (from its settings); ``NotConfigured`` (component disabled) on a single machine."""
    from scrapy.exceptions import NotConfigured

    from crawlers.settings import settings_of

    url = settings_of(crawler).redis_url
    if not url:
        raise NotConfigured("no Redis")
    return url


def connect(redis_url: str) -> Any:
    """A Redis client for ``redis_url``; raises :class:`DistributedError` when the server does not answer."""
    import redis

    if not redis_url:
        raise ConfigError("redis_url is not set: distributed crawling needs TECHSCOUT_REDIS_URL")
    try:
        client = redis.Redis.from_url(redis_url, socket_timeout=30, socket_connect_timeout=10)
        client.ping()
    except (redis.RedisError, ValueError) as exc:
        raise DistributedError(f"cannot reach Redis at {redis_url}: {exc}") from None
    return client


def is_distributed(settings: Settings) -> bool:
    return bool(settings.redis_url)


def source_key(source: str, part: str) -> str:
    """``techscout:<source>:<part>``: a crawl's frontier, leases, seen requests, URL states, page count."""
    return f"{PREFIX}:{source}:{part}"


def job_key(source: str) -> str:
    return f"{PREFIX}:job:{source}"


def host_key(host: str) -> str:
    return f"{PREFIX}:host:{host}"


def robots_key(netloc: str) -> str:
    return f"{PREFIX}:robots:{netloc}"


def dedup_prefix() -> str:
    return f"{PREFIX}:dedup"


def worker_id() -> str:
    return f"{socket.gethostname()}-{uuid.uuid4().hex[:6]}"
