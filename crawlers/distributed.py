"""Distributed crawling: several crawler workers on any number of machines share one crawl through Redis.

Switched on by the ``redis_url`` setting (``TECHSCOUT_REDIS_URL``). What lives in Redis, per source:

* the **frontier** (``techscout:<source>:requests``, a sorted set by priority) — a scrapy-redis queue whose
  ``pop`` *leases* a request instead of removing it: the request moves to ``:leases`` with a deadline in
  ``:deadlines``; the worker extends its deadlines while it lives and acknowledges a request once its response
  (and every article it produced) has been processed and stored. Requests of a dead worker go back to the
  frontier when their deadline passes (:meth:`LeasedQueue.reap`) and are fetched by another worker;
* the **seen-request fingerprints** (``:seen``, scrapy-redis' ``RFPDupeFilter``), so no URL is requested twice;
* the **incremental state** (``:urls``, a hash of canonical URL → :class:`~search.backends.base.UrlState`);
* the **job** (``techscout:job:<source>``: run id, page bound, pages used) and the set of active jobs;

and across sources:

* **per-host politeness** (``techscout:host:<host>``): right before each download a worker must
  ``SET NX PX delay`` that key (:class:`HostGateHandler`), so one host sees at most one request per ``delay``
  whatever the number of workers;
* **robots.txt** (``techscout:robots:<host>``), fetched by one worker and parsed by all (:class:`SharedRobotsTxt`);
* the **duplicate lookup state** (``techscout:dedup:*``): exact fingerprints and LSH band keys with each
  document's MinHash signature, behind the interface :class:`pipelines.dedup.DedupPipeline` uses
  (:class:`RedisDedupIndex`).

A worker runs the item pipelines in a thread of its own (:class:`ThreadedItemPipelines`), so the reactor sends
requests on time while pages are extracted. Documents themselves go to the shared store (Elasticsearch, or one
embedded SQLite file in a shared data directory), keyed by canonical-URL id, so a page fetched twice after a
worker died is still stored once.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import inspect
import json
import logging
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, fields
from typing import Any, TypeVar

import numpy as np

from core.errors import ConfigError, DistributedError
from core.settings import Settings
from crawlers.sources import Source
from search.backends.base import UrlState

log = logging.getLogger(__name__)
T = TypeVar("T")

PREFIX = "techscout"
LEASE_SECONDS = (
    60.0  # a request leased by a worker that stops extending it returns to the frontier after this
)
HEARTBEAT_SECONDS = 2.0  # how often a worker extends its leases and reaps expired ones
GATE_ALLOWANCE = 0.1  # seconds added to a host's delay in the gate, for the time between claim and wire



# --------------------------------------------------------------------------------------------------------------
# connection and keys
# --------------------------------------------------------------------------------------------------------------
def redis_url_of(crawler: Any) -> str:
    """The crawl's Redis URL; ``NotConfigured`` (component disabled) in the single-machine mode."""
    from scrapy.exceptions import NotConfigured

    url = str(crawler.settings.get("TECHSCOUT_REDIS_URL") or "")
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
    return f"{PREFIX}:{source}:{part}"


def job_key(source: str) -> str:
    return f"{PREFIX}:job:{source}"


JOBS_KEY = f"{PREFIX}:jobs"


def host_key(host: str) -> str:
    return f"{PREFIX}:host:{host}"


# --------------------------------------------------------------------------------------------------------------
# request serialisation: JSON (bytes as base64), never pickle
# --------------------------------------------------------------------------------------------------------------
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


# --------------------------------------------------------------------------------------------------------------
# the leased frontier
# --------------------------------------------------------------------------------------------------------------
_POP = """
local item = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
if #item == 0 then return false end
redis.call('ZREM', KEYS[1], item[1])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
redis.call('HSET', KEYS[2], ARGV[1], item[1])
redis.call('HSET', KEYS[4], ARGV[1], item[2])
redis.call('ZADD', KEYS[3], now + tonumber(ARGV[2]), ARGV[1])
return item[1]
"""

_REAP = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local expired = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', now)
for _, token in ipairs(expired) do
  local data = redis.call('HGET', KEYS[2], token)
  local score = redis.call('HGET', KEYS[4], token)
  if data then redis.call('ZADD', KEYS[1], tonumber(score or '0'), data) end
  redis.call('HDEL', KEYS[2], token)
  redis.call('HDEL', KEYS[4], token)
  redis.call('ZREM', KEYS[3], token)
end
return #expired
"""

_EXTEND = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local n = 0
for i = 1, #ARGV - 1 do
  n = n + redis.call('ZADD', KEYS[1], 'XX', 'CH', now + tonumber(ARGV[#ARGV]), ARGV[i])
end
return n
"""

_FINISH = """
if redis.call('ZCARD', KEYS[1]) > 0 or redis.call('ZCARD', KEYS[2]) > 0 then return 0 end
if redis.call('HGET', KEYS[3], 'run_id') ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[3])
redis.call('SREM', KEYS[4], ARGV[2])
return 1
"""


_TRANSIENT_META = frozenset({"lease", "download_slot", "download_latency", "download_timeout", "_slot_proxy"})


class LeasedQueue:
    """A scrapy-redis priority queue (``SCHEDULER_QUEUE_CLASS``) whose ``pop`` leases the request.

    A popped request carries ``meta["lease"]``; :meth:`ack` ends the lease, :meth:`extend` keeps it alive,
    :meth:`reap` returns expired leases to the frontier. A request pushed while carrying a lease (a redirect,
    a retry) replaces the leased one in one transaction.
    """

    def __init__(self, server: Any, spider: Any, key: str, serializer: Any = None) -> None:
        self.server = server
        self.spider = spider
        self.key = key % {"spider": spider.name}
        self.serializer = serializer or JsonSerializer
        base = self.key.rsplit(":", 1)[0]
        self.leases_key = base + ":leases"
        self.scores_key = base + ":scores"
        self.deadlines_key = base + ":deadlines"
        self.lease_seconds = float(getattr(spider, "lease_seconds", LEASE_SECONDS))
        self.held: set[str] = set()
        self._held_lock = threading.Lock()  # leases are extended from a thread that the reactor cannot stall
        self._pop = server.register_script(_POP)
        self._reap = server.register_script(_REAP)
        self._extend = server.register_script(_EXTEND)

    # scrapy-redis queue interface
    def _encode_request(self, request: Any) -> bytes:
        obj = request.to_dict(spider=self.spider)
        obj["meta"] = {k: v for k, v in obj["meta"].items() if k not in _TRANSIENT_META}
        data: bytes = self.serializer.dumps(obj)
        return data

    def _decode_request(self, data: bytes) -> Any:
        from scrapy.utils.request import request_from_dict

        return request_from_dict(self.serializer.loads(data), spider=self.spider)

    def __len__(self) -> int:
        return int(self.server.zcard(self.key))

    def push(self, request: Any) -> None:
        data = self._encode_request(request)
        token = request.meta.get("lease")
        pipe = self.server.pipeline(transaction=True)
        pipe.execute_command("ZADD", self.key, -int(request.priority), data)
        if token:
            self._release(pipe, token)
        pipe.execute()
        if token:
            self._forget(token)
            request.meta.pop("lease", None)

    def pop(self, timeout: float = 0) -> Any:
        token = uuid.uuid4().hex
        data = self._pop(
            keys=[self.key, self.leases_key, self.deadlines_key, self.scores_key],
            args=[token, self.lease_seconds],
        )
        if not data:
            return None
        request = self._decode_request(data)
        request.meta["lease"] = token
        with self._held_lock:
            self.held.add(token)
        return request

    def clear(self) -> None:
        self.server.delete(self.key, self.leases_key, self.scores_key, self.deadlines_key)

    # leases
    def _release(self, pipe: Any, token: str) -> None:
        pipe.hdel(self.leases_key, token)
        pipe.hdel(self.scores_key, token)
        pipe.zrem(self.deadlines_key, token)

    def ack(self, token: str) -> None:
        pipe = self.server.pipeline(transaction=True)
        self._release(pipe, token)
        pipe.execute()
        self._forget(token)

    def _forget(self, token: str) -> None:
        with self._held_lock:
            self.held.discard(token)

    def extend(self) -> int:
        """Push the deadlines of this worker's leases ``lease_seconds`` into the future."""
        with self._held_lock:
            tokens = sorted(self.held)
        if not tokens:
            return 0
        return int(self._extend(keys=[self.deadlines_key], args=[*tokens, self.lease_seconds]))

    def reap(self) -> int:
        """Return expired leases (of workers that died) to the frontier; how many."""
        n = int(self._reap(keys=[self.key, self.leases_key, self.deadlines_key, self.scores_key]))
        if n:
            log.warning("%s: %d request(s) of a stopped worker returned to the frontier", self.spider.name, n)
        return n

    def leased(self) -> int:
        return int(self.server.zcard(self.deadlines_key))


def _scheduler_base() -> type:
    from scrapy_redis.scheduler import Scheduler

    return Scheduler


class LeasingScheduler(_scheduler_base()):  # type: ignore[misc]
    """scrapy-redis' scheduler over :class:`LeasedQueue`: a leased request that is replaced (redirect, retry)
    or filtered as seen ends its lease."""

    def enqueue_request(self, request: Any) -> bool:
        if not request.dont_filter and self.df.request_seen(request):
            token = request.meta.pop("lease", None)
            if token:
                self.queue.ack(token)
            return False
        if self.stats:
            self.stats.inc_value("scheduler/enqueued/redis")
        self.queue.push(request)
        return True

    def next_request(self) -> Any:
        request = self.queue.pop()
        if request is not None and self.stats:
            self.stats.inc_value("scheduler/dequeued/redis")
        return request


# --------------------------------------------------------------------------------------------------------------
# per-host politeness across workers
# --------------------------------------------------------------------------------------------------------------
def slot_ms(delay: float) -> int:
    """Milliseconds a claimed slot holds a host: the delay, plus a small allowance for the time the request takes
    to leave the process."""
    return max(1, int((delay + min(GATE_ALLOWANCE, delay * 0.25)) * 1000))


def try_host_slot(server: Any, host: str, delay: float, token: bytes = b"1") -> float:
    """Claim the next request slot of ``host``: 0.0 when claimed, else the seconds until it may be tried again."""
    if delay <= 0:
        return 0.0
    if server.set(host_key(host), token, nx=True, px=slot_ms(delay)):
        return 0.0
    ttl = int(server.pttl(host_key(host)))
    return max(ttl, 1) / 1000.0


async def wait_for_host_slot(server: Any, host: str, delay: float, token: bytes = b"1") -> bool:
    """Wait until this worker holds ``host``'s next request slot; True when it had to wait."""
    waited = False
    while (wait := try_host_slot(server, host, delay, token)) > 0:
        waited = True
        await asyncio.sleep(wait)
    return waited


_REARM = """
local held = redis.call('GET', KEYS[1])
if held and held ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
"""


DEFAULT_HANDLER = "scrapy.core.downloader.handlers.http11.HTTP11DownloadHandler"


class HostGateHandler:
    """Download handler (``http``/``https``, distributed mode): takes the host's slot in the shared gate (see
    :func:`try_host_slot`), then hands the request at once to the real handler (``TECHSCOUT_GATED_HANDLER``,
    default Scrapy's HTTP/1.1 one). Nothing runs between the claim and the start of the download, so requests
    to one host leave at least ``delay`` apart, as the host sees them, whatever the number of workers; and once
    the request has been written the slot is held for ``delay`` again from then, so a request that left late
    (a reactor stalled for a moment) does not bring the next one closer."""

    lazy = False

    def __init__(self, crawler: Any, server: Any, delay: float, inner: Any) -> None:
        self.crawler = crawler
        self.server = server
        self.delay = delay
        self.inner = inner
        self.user_agent = str(crawler.settings.get("USER_AGENT") or "*")
        self.crawl_delays: dict[str, float] = {}  # host → robots.txt Crawl-delay, when longer than ``delay``
        self._rearm = server.register_script(_REARM)

    @classmethod
    def from_crawler(cls, crawler: Any) -> HostGateHandler:
        from scrapy.utils.misc import build_from_crawler, load_object

        url = redis_url_of(crawler)
        inner = build_from_crawler(
            load_object(crawler.settings.get("TECHSCOUT_GATED_HANDLER") or DEFAULT_HANDLER), crawler
        )
        from scrapy import signals

        delay = float(crawler.settings.getfloat("TECHSCOUT_HOST_DELAY", 0.0))
        handler = cls(crawler, connect(url), delay, inner)
        crawler.signals.connect(handler.robots_parsed, signal=signals.robots_parsed)
        return handler

    def robots_parsed(self, robotparser: Any, request: Any) -> None:
        """A host's robots.txt ``Crawl-delay`` (every worker reads the same one) spaces the shared gate too."""
        from crawlers.middlewares import MAX_CRAWL_DELAY, host_of

        try:
            asked = robotparser.crawl_delay(self.user_agent)
        except Exception:  # a parser without crawl delays, a malformed robots.txt: the delay alone
            asked = None
        if asked:
            host = host_of(request.url)
            self.crawl_delays[host] = min(float(asked), MAX_CRAWL_DELAY)

    async def download_request(self, request: Any) -> Any:
        from crawlers.middlewares import host_of

        host = host_of(request.url)
        delay = max(self.delay, self.crawl_delays.get(host, 0.0))
        token = uuid.uuid4().hex.encode()
        if await wait_for_host_slot(self.server, host, delay, token) and self.crawler.stats is not None:
            self.crawler.stats.inc_value("techscout/host_gate_waits")
        if delay > 0:
            # once the request has been written (the reactor's next turns: connection, then send), the slot is
            # held again for the full delay from then: a request that left late still has its successor wait
            loop = asyncio.get_running_loop()
            loop.call_later(0, loop.call_later, 0, self.sent, host, delay, token)
        return await self.inner.download_request(request)

    def sent(self, host: str, delay: float, token: bytes) -> None:
        """Hold ``host``'s slot for the delay from now, unless another request holds it already."""
        try:
            self._rearm(keys=[host_key(host)], args=[token, slot_ms(delay)])
        except Exception as exc:  # Redis briefly away: the claim alone spaces this request
            log.warning("host gate: %s", exc)

    async def close(self) -> None:
        close = getattr(self.inner, "close", None)
        if close is not None:
            result = close()
            if asyncio.iscoroutine(result):
                await result


# --------------------------------------------------------------------------------------------------------------
# robots.txt, read once for every worker
# --------------------------------------------------------------------------------------------------------------
ROBOTS_SECONDS = 3600.0  # how long a robots.txt fetched by one worker serves the others
ROBOTS_WAIT = 30.0  # the longest a worker waits for the robots.txt another worker is fetching


def robots_key(netloc: str) -> str:
    return f"{PREFIX}:robots:{netloc}"


def _robots_base() -> type:
    from scrapy.downloadermiddlewares.robotstxt import RobotsTxtMiddleware

    return RobotsTxtMiddleware


class SharedRobotsTxt(_robots_base()):  # type: ignore[misc]
    """Scrapy's robots.txt middleware reading each host's robots.txt once for all workers: the first worker that
    needs it fetches it (``SET NX`` on ``techscout:robots:<host>:fetching``) and shares the answer in
    ``techscout:robots:<host>`` for :data:`ROBOTS_SECONDS`; the others parse that copy. So a host sees one
    robots.txt request per crawl, not one per worker, and no worker spends a gate slot on it. A worker whose
    fetch fails leaves the next worker to try."""

    def __init__(self, crawler: Any, server: Any) -> None:
        super().__init__(crawler)
        self.server = server

    @classmethod
    def from_crawler(cls, crawler: Any) -> SharedRobotsTxt:
        return cls(crawler, connect(redis_url_of(crawler)))

    async def robot_parser(self, request: Any) -> Any:
        from scrapy.utils.httpobj import urlparse_cached

        url = urlparse_cached(request)
        if url.netloc not in self._parsers:
            await self._use_shared(f"{url.scheme}://{url.netloc}", url.netloc, request)
        return await super().robot_parser(request)

    async def _use_shared(self, origin: str, netloc: str, request: Any) -> None:
        """Parse the shared copy when there is one (or once the worker fetching it has shared it); return with
        nothing parsed when this worker is to fetch it."""
        from scrapy.http import Request, Response
        from twisted.internet.defer import Deferred

        key = robots_key(netloc)
        deadline = time.monotonic() + ROBOTS_WAIT
        while True:
            status, body = self.server.hmget(key, ["status", "body"])
            if status is not None or netloc in self._parsers:
                break
            if self.server.set(key + ":fetching", b"1", nx=True, px=int(ROBOTS_WAIT * 1000)):
                return
            if time.monotonic() > deadline:
                return
            await asyncio.sleep(0.05)
        if netloc in self._parsers:
            return
        robots = Request(origin + "/robots.txt", meta={"dont_obey_robotstxt": True})
        response = Response(
            robots.url, status=int(status), body=body or b"", request=robots, flags=["shared"]
        )
        self._parsers[netloc] = Deferred()
        await self._parse_robots(response, netloc, request)
        self._stats.inc_value("robotstxt/shared")

    async def _parse_robots(self, response: Any, netloc: str, request: Any) -> None:
        if "shared" not in response.flags:
            pipe = self.server.pipeline(transaction=True)
            pipe.hset(robots_key(netloc), mapping={"status": response.status, "body": response.body})
            pipe.pexpire(robots_key(netloc), int(ROBOTS_SECONDS * 1000))
            pipe.delete(robots_key(netloc) + ":fetching")
            pipe.execute()
        await super()._parse_robots(response, netloc, request)

    def _robots_error(self, exc: Exception, netloc: str) -> None:
        self.server.delete(robots_key(netloc) + ":fetching")
        super()._robots_error(exc, netloc)


# --------------------------------------------------------------------------------------------------------------
# shared incremental state
# --------------------------------------------------------------------------------------------------------------
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


# --------------------------------------------------------------------------------------------------------------
# jobs: the scheduler enqueues, workers crawl
# --------------------------------------------------------------------------------------------------------------
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


def worker_id() -> str:
    return f"{socket.gethostname()}-{uuid.uuid4().hex[:6]}"


# --------------------------------------------------------------------------------------------------------------
# shared duplicate lookup state
# --------------------------------------------------------------------------------------------------------------
_LOCK_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class RedisDedupIndex:
    """Exact and near-duplicate lookup shared by every worker, with the interface the dedup pipeline uses
    (``lookup``, ``add``, ``source_of``, ``close``).

    Redis holds the exact fingerprints (``techscout:dedup:fp``: fingerprint → first document), the LSH band
    keys (``techscout:dedup:band:<key>``: set of documents) and per document its MinHash signature, size,
    source, cluster and story (``techscout:dedup:doc:<id>``). Candidates come from the bands and are confirmed
    with the thresholds of :mod:`pipelines.dedup`; an add runs under a short Redis lock so two workers never
    both found a cluster for one text. Story grouping of articles that are not duplicates is done by a local
    in-memory :class:`pipelines.dedup.DedupIndex` (the worker's own documents).
    """

    def __init__(self, server: Any, prefix: str = f"{PREFIX}:dedup") -> None:
        from pipelines.dedup import DedupIndex

        self.server = server
        self.prefix = prefix
        self.local = DedupIndex()
        self._release = server.register_script(_LOCK_RELEASE)

    # -- helpers ---------------------------------------------------------------------------------------------
    def _prepare(self, text: str, title: str, normalized: bool) -> tuple[int, Any, int, Any]:
        from pipelines.dedup import BANDS
        from pipelines.minhash import band_keys, content_lines, dedup_text, fingerprint, signature
        from pipelines.normalize import normalize_text

        norm = text if normalized else normalize_text(text)
        ntitle = title if normalized else normalize_text(title)
        dtext = dedup_text(norm, normalized=True, lines=content_lines(norm)) or dedup_text(
            ntitle, normalized=True
        )
        sig, size = signature(dtext)
        return int(fingerprint(dtext), 16), sig, int(size), band_keys(sig, BANDS)

    def _doc(self, doc_id: str) -> str:
        return f"{self.prefix}:doc:{doc_id}"

    def _probe(
        self, doc_id: str, fp: int, sig: Any, size: int, bands: Any
    ) -> tuple[str | None, bool, float, dict[str, str]]:
        """(duplicate_of, exact, similarity, the duplicate's fields)."""
        from pipelines.dedup import CONTAINMENT_JACCARD_MIN, CONTAINMENT_MIN, JACCARD_MIN
        from pipelines.minhash import containment, similarity

        pipe = self.server.pipeline()
        for key in np.asarray(bands).ravel().tolist():
            pipe.smembers(f"{self.prefix}:band:{int(key):x}")
        cands = sorted({m.decode() for members in pipe.execute() for m in members} - {doc_id})
        best: tuple[tuple[float, float], str, bool, float, dict[str, str]] | None = None
        if cands:
            pipe = self.server.pipeline()
            for c in cands:
                pipe.hgetall(self._doc(c))
            docs = [{k.decode(): v for k, v in d.items()} for d in pipe.execute()]
            rows = [
                (c, d)
                for c, d in zip(cands, docs, strict=True)
                if d.get("alive", b"1") == b"1" and "sig" in d
            ]
            if rows:
                sigs = np.stack([np.frombuffer(d["sig"], dtype=np.uint32) for _, d in rows])
                sizes = np.array([int(d["size"]) for _, d in rows], dtype=np.int64)
                fps = np.array([int(d["fp"], 16) for _, d in rows], dtype=np.uint64)
                js = similarity(sig, sigs)
                same = fps == np.uint64(fp)
                cont = containment(js, size, sizes)
                ok = (
                    same | (js >= JACCARD_MIN) | ((cont >= CONTAINMENT_MIN) & (js >= CONTAINMENT_JACCARD_MIN))
                )
                for i in np.flatnonzero(ok).tolist():
                    c, d = rows[i]
                    score = 2.0 if same[i] else float(js[i])
                    key = (-score, float(d.get("seq", b"0")))  # best, then earliest seen
                    if best is None or key < best[0]:
                        fields_ = {k: v.decode() for k, v in d.items() if k not in ("sig",)}
                        best = (key, c, bool(same[i]), 1.0 if same[i] else float(js[i]), fields_)
        if best is None:
            first = self.server.hget(f"{self.prefix}:fp", f"{fp:016x}")
            if first is not None and first.decode() != doc_id:
                d = {
                    k.decode(): v.decode()
                    for k, v in self.server.hgetall(self._doc(first.decode())).items()
                    if k != b"sig"
                }
                if d:
                    return first.decode(), True, 1.0, d
            return None, False, 0.0, {}
        return best[1], best[2], round(best[3], 4), best[4]

    def _result(
        self, doc_id: str, fp: int, dup: str | None, exact: bool, sim: float, d: dict[str, str], story: str
    ) -> Any:
        from pipelines.dedup import DedupResult

        if dup is not None:
            return DedupResult(dup, exact, d.get("cluster", dup), d.get("story", dup), sim, f"{fp:016x}")
        own = self.server.hmget(self._doc(doc_id), ["cluster", "story"])
        cluster = own[0].decode() if own[0] else doc_id
        if own[1] and story == doc_id:
            story = own[1].decode()
        return DedupResult(None, False, cluster, story, 0.0, f"{fp:016x}")

    # -- the interface ---------------------------------------------------------------------------------------
    def lookup(
        self,
        doc_id: str,
        text: str,
        *,
        title: str = "",
        published: str | None = None,
        url: str = "",
        source: str = "",
        normalized: bool = False,
    ) -> Any:
        fp, sig, size, bands = self._prepare(text, title, normalized)
        dup, exact, sim, d = self._probe(doc_id, fp, sig, size, bands)
        local = self.local.lookup(
            doc_id, text, title=title, published=published, url=url, source=source, normalized=normalized
        )
        return self._result(doc_id, fp, dup, exact, sim, d, local.story_id)

    def add(
        self,
        doc_id: str,
        text: str,
        *,
        title: str = "",
        published: str | None = None,
        url: str = "",
        source: str = "",
        cluster_id: str | None = None,
        story_id: str | None = None,
        normalized: bool = False,
    ) -> Any:
        from dataclasses import replace

        fp, sig, size, bands = self._prepare(text, title, normalized)
        token = uuid.uuid4().hex
        lock = f"{self.prefix}:lock"
        deadline = time.monotonic() + 30
        while not self.server.set(lock, token, nx=True, px=10_000):
            if time.monotonic() > deadline:
                raise DistributedError("the shared duplicate index stayed locked for 30 s")
            time.sleep(0.002)
        try:
            dup, exact, sim, d = self._probe(doc_id, fp, sig, size, bands)
            local = self.local.lookup(
                doc_id, text, title=title, published=published, url=url, source=source, normalized=normalized
            )
            result = self._result(doc_id, fp, dup, exact, sim, d, local.story_id)
            if cluster_id or story_id:
                result = replace(
                    result, cluster_id=cluster_id or result.cluster_id, story_id=story_id or result.story_id
                )
            seq = int(self.server.incr(f"{self.prefix}:seq"))
            pipe = self.server.pipeline(transaction=True)
            pipe.hset(
                self._doc(doc_id),
                mapping={
                    "sig": np.asarray(sig, dtype=np.uint32).tobytes(),
                    "size": size,
                    "fp": f"{fp:016x}",
                    "source": source,
                    "cluster": result.cluster_id,
                    "story": result.story_id,
                    "seq": seq,
                    "published": published or "",
                    "alive": "1",
                },
            )
            pipe.hsetnx(f"{self.prefix}:fp", f"{fp:016x}", doc_id)
            for key in np.asarray(bands).ravel().tolist():
                pipe.sadd(f"{self.prefix}:band:{int(key):x}", doc_id)
            pipe.execute()
        finally:
            self._release(keys=[lock], args=[token])
        self.local.add(
            doc_id,
            text,
            title=title,
            published=published,
            url=url,
            source=source,
            cluster_id=result.cluster_id,
            story_id=result.story_id,
            normalized=normalized,
        )
        return result

    def source_of(self, doc_id: str) -> str | None:
        raw = self.server.hget(self._doc(doc_id), "source")
        return raw.decode() if raw is not None else None

    def __contains__(self, doc_id: object) -> bool:
        return bool(self.server.exists(self._doc(str(doc_id))))

    def close(self) -> None:
        self.local.close()


# --------------------------------------------------------------------------------------------------------------
# pipelines used in distributed mode (replace their local counterparts in ITEM_PIPELINES)
# --------------------------------------------------------------------------------------------------------------
def _dedup_base() -> type:
    from pipelines.dedup import DedupPipeline

    return DedupPipeline


def _store_base() -> type:
    from pipelines.store import StorePipeline

    return StorePipeline


@functools.cache
def pipeline_thread() -> ThreadPoolExecutor:
    """The worker's one thread for item processing (created on first use)."""
    return ThreadPoolExecutor(max_workers=1, thread_name_prefix="pipelines")


async def off_reactor(fn: Callable[..., T], *args: Any) -> T:
    """``fn(*args)`` run in the pipeline thread; the reactor keeps sending and receiving meanwhile."""
    return await asyncio.get_running_loop().run_in_executor(pipeline_thread(), fn, *args)


def _item_processor_base() -> type:
    from scrapy.pipelines import ItemPipelineManager

    return ItemPipelineManager


class ThreadedItemPipelines(_item_processor_base()):  # type: ignore[misc]
    """Scrapy's item pipeline manager (``ITEM_PROCESSOR``) running the plain (synchronous) ``process_item``
    methods in the worker's pipeline thread, one item at a time, and the asynchronous ones (which may download,
    e.g. attachments) on the reactor. Extracting, classifying and storing pages takes tens of milliseconds
    each; off the reactor, it no longer holds back the requests a worker has to send meanwhile."""

    async def process_item_async(self, item: Any) -> Any:
        from scrapy.utils.defer import ensure_awaitable

        run: list[Any] = []  # consecutive synchronous methods go to the thread together
        for method in [*self.methods["process_item"], None]:
            if method is not None and not inspect.iscoroutinefunction(method):
                run.append(method)
                continue
            if run:
                item = await off_reactor(self._chain, run, item)
                run = []
            if method is not None:
                item = await ensure_awaitable(self._call(method, item))
        return item

    def _call(self, method: Any, item: Any) -> Any:
        if method in self._mw_methods_requiring_spider:
            return method(item, self._spider)
        return method(item)

    def _chain(self, methods: list[Any], item: Any) -> Any:
        for method in methods:
            item = self._call(method, item)
            if inspect.isawaitable(item):
                raise DistributedError(f"{method!r} returned an awaitable from a plain process_item")
        return item


def _extract_base() -> type:
    from pipelines.extract import ExtractPipeline

    return ExtractPipeline


class ThreadedExtractPipeline(_extract_base()):  # type: ignore[misc]
    """The extract stage with the extraction itself in the pipeline thread (attachments are still fetched
    through the engine, on the reactor)."""

    async def extraction_of(self, page: Any) -> Any:
        from pipelines.extract import extract_page

        return await off_reactor(extract_page, page)


class SharedDedupPipeline(_dedup_base()):  # type: ignore[misc]
    """The dedup stage over :class:`RedisDedupIndex`."""

    def __init__(self, data_dir: str, stats: Any = None, redis_url: str = "") -> None:
        super().__init__(data_dir, stats)
        self.redis_url = redis_url

    @classmethod
    def from_crawler(cls, crawler: Any) -> SharedDedupPipeline:
        url = redis_url_of(crawler)
        return cls(crawler.settings.get("TECHSCOUT_DATA") or ".", getattr(crawler, "stats", None), url)

    def open_spider(self) -> None:
        self.index = RedisDedupIndex(connect(self.redis_url))


class SharedStorePipeline(_store_base()):  # type: ignore[misc]
    """The store stage writing each article at once (a lease ends only once its articles are stored) and
    marking it known in the shared incremental state."""

    batch_size = 1

    def flush(self) -> None:
        batch = list(self.buffer)
        super().flush()
        known = getattr(self.crawler.spider, "known", None)
        if batch and isinstance(known, RedisUrlStates):
            from pipelines.store import url_state_of

            known.record(url_state_of(a) for a in batch)
