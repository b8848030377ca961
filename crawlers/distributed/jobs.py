"""Jobs: a crawl put on the shared frontier (by the scheduler, ``techscout crawl --enqueue`` or 立即抓取) and
done by whichever workers join it. ``techscout:job:<source>`` holds the run id, the source and the page bound;
``techscout:jobs`` the active sources."""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

from core.settings import Settings
from crawlers.distributed.connection import JOBS_KEY, connect, job_key, source_key
from crawlers.distributed.serializer import JsonSerializer
from crawlers.distributed.state import RedisUrlStates
from crawlers.sources import Source, load_sources

log = logging.getLogger(__name__)

_FINISH = """
if redis.call('ZCARD', KEYS[1]) > 0 or redis.call('ZCARD', KEYS[2]) > 0 then return 0 end
if redis.call('HGET', KEYS[3], 'run_id') ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[3])
redis.call('SREM', KEYS[4], ARGV[2])
return 1
"""


def source_to_dict(source: Source) -> dict[str, Any]:
    return asdict(source)


def source_from_dict(data: dict[str, Any]) -> Source:
    known = {f.name for f in fields(Source)}
    return Source(**{k: v for k, v in data.items() if k in known})


def _serialising_spider(source: Source) -> Any:
    from crawlers.spiders.generic import GenericSpider

    return GenericSpider(source)


def start_requests_of(source: Source) -> list[Any]:
    """The start requests of a source, as its spider makes them."""
    spider = _serialising_spider(source)

    async def collect() -> list[Any]:
        return [r async for r in spider.start()]

    return asyncio.run(collect())


def enqueue_crawl(
    settings: Settings,
    source: Source,
    *,
    run_id: str | None = None,
    max_pages: int | None = None,
    server: Any = None,
) -> str:
    """Start a crawl of ``source`` on the shared frontier (workers do the fetching); returns its run id.

    A source whose crawl is still running is not enqueued again: the running crawl's id is returned.
    """
    from scrapy.http import Request
    from scrapy_redis.dupefilter import RFPDupeFilter

    server = server or connect(settings.redis_url)
    jkey = job_key(source.name)
    run_id = run_id or uuid.uuid4().hex[:12]
    bound = max_pages or source.max_pages or settings.max_pages
    job = {
        "run_id": run_id,
        "source": json.dumps(source_to_dict(source), ensure_ascii=False),
        "max_pages": str(bound),
        "enqueued": str(time.time()),
    }
    # claim the job atomically: HSETNX on run_id decides between two schedulers
    if not server.hsetnx(jkey, "run_id", run_id):
        current = server.hget(jkey, "run_id")
        return current.decode() if isinstance(current, bytes) else str(current)
    spider = _serialising_spider(source)
    queue_key = source_key(source.name, "requests")
    for part in ("requests", "leases", "scores", "deadlines", "seen", "pages"):
        server.delete(source_key(source.name, part))
    if not server.exists(source_key(source.name, "urls")):
        seed_url_states(settings, source.name, server)
    df = RFPDupeFilter(server, key=source_key(source.name, "seen"))
    pipe = server.pipeline(transaction=True)
    for request in start_requests_of(source):
        assert isinstance(request, Request)
        df.request_seen(request)  # a link back to a start URL is not fetched again
        obj = request.to_dict(spider=spider)
        pipe.execute_command("ZADD", queue_key, -int(request.priority), JsonSerializer.dumps(obj))
    pipe.hset(jkey, mapping=job)
    pipe.sadd(JOBS_KEY, source.name)
    pipe.execute()
    log.info("%s: crawl %s enqueued", source.name, run_id)
    return run_id


def seed_url_states(settings: Settings, source: str, server: Any) -> int:
    """Copy a source's known URLs from the store into Redis (the first distributed crawl after local ones)."""
    from search.backends import open_backend

    backend = open_backend(settings)
    try:
        states = list(backend.url_states(source).values())
    finally:
        backend.close()
    RedisUrlStates(server, source).record(states)
    return len(states)


def active_jobs(server: Any) -> dict[str, dict[str, Any]]:
    """The crawls waiting for or being done by workers: source name → job."""
    out: dict[str, dict[str, Any]] = {}
    for raw in sorted(server.smembers(JOBS_KEY)):
        name = raw.decode() if isinstance(raw, bytes) else str(raw)
        job = {k.decode(): v.decode() for k, v in server.hgetall(job_key(name)).items()}
        if "source" not in job:
            continue
        out[name] = {
            "run_id": job.get("run_id", ""),
            "source": source_from_dict(json.loads(job["source"])),
            "max_pages": int(job.get("max_pages", "0") or 0),
        }
    return out


def finish_job(server: Any, source: str, run_id: str) -> bool:
    """End the job when nothing is queued or leased any more; True when this call ended it."""
    script = server.register_script(_FINISH)
    keys = [source_key(source, "requests"), source_key(source, "deadlines"), job_key(source), JOBS_KEY]
    return bool(script(keys=keys, args=[run_id, source]))


def job_pending(server: Any, source: str) -> int:
    """Requests queued or leased in the source's crawl."""
    pipe = server.pipeline()
    pipe.zcard(source_key(source, "requests"))
    pipe.zcard(source_key(source, "deadlines"))
    queued, leased = pipe.execute()
    return int(queued) + int(leased)


def take_page_budget(server: Any, source: str, bound: int) -> bool:
    """Count one more page against the crawl's shared bound; False when the bound is used up."""
    return int(server.incr(source_key(source, "pages"))) <= bound


def enqueue_crawls(
    settings: Settings,
    sources_path: Path,
    names: list[str],
    *,
    max_pages: int | None = None,
    run_id: str | None = None,
) -> list[dict[str, str]]:
    """Enqueue crawls of the named sources (all enabled ones when none are named); one line per source."""
    server = connect(settings.redis_url)
    out = []
    for source in load_sources(sources_path, names=names or None):
        rid = enqueue_crawl(settings, source, run_id=run_id, max_pages=max_pages, server=server)
        out.append({"source": source.name, "run_id": rid})
    return out


def enqueue_scheduled(settings: Settings, name: str, sources_path: Path) -> dict[str, Any]:
    """A launch in distributed mode: enqueue the source's crawl for the workers. The local run is ``skipped``
    (the workers record the crawl's runs); ``enqueued`` names the crawl's run id, ``id`` its run record."""
    sources = load_sources(sources_path, names=[name])
    if not sources:
        return {"id": "", "source": name, "status": "skipped", "reason": "unknown or disabled source"}
    run_id = enqueue_crawl(settings, sources[0])
    log.info("crawl %s enqueued for the workers (run %s)", name, run_id)
    return {"id": f"{run_id}-{name}", "source": name, "status": "skipped", "enqueued": run_id}
