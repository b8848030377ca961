"""The leased frontier: a scrapy-redis priority queue whose ``pop`` leases a request instead of removing it.

The request moves to ``:leases`` with a deadline in ``:deadlines``; the worker extends its deadlines while it
lives and acknowledges a request once its response (and every article it produced) has been processed and
stored. Requests of a dead worker go back to the frontier when their deadline passes (:meth:`LeasedQueue.reap`)
and are fetched by another worker.
"""

from __future__ import annotations

import logging
import threading
import uuid
from typing import Any

from crawlers.distributed.serializer import JsonSerializer

log = logging.getLogger(__name__)

LEASE_SECONDS = 60.0  # a request leased by a worker that stops extending it returns to the frontier after this

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

