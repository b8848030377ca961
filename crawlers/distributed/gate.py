"""Per-host politeness across workers: one shared gate per host in Redis.

Right before each download a worker must ``SET NX PX delay`` the host's key (:class:`HostGateHandler`), so one
host sees at most one request per ``delay`` whatever the number of workers."""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any

from crawlers.distributed.connection import connect, host_key, redis_url_of

log = logging.getLogger(__name__)

GATE_ALLOWANCE = 0.1  # seconds added to a host's delay in the gate, for the time between claim and wire


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
    :func:`try_host_slot`), then hands the request at once to the real handler (``HOST_GATE_HANDLER``,
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
            load_object(crawler.settings.get("HOST_GATE_HANDLER") or DEFAULT_HANDLER), crawler
        )
        from scrapy import signals

        delay = float(crawler.settings.getfloat("HOST_GATE_DELAY", 0.0))
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

