"""robots.txt read once for every worker: fetched by the first worker that needs it, shared through Redis."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from crawlers.distributed.connection import connect, redis_url_of, robots_key

ROBOTS_SECONDS = 3600.0  # how long a robots.txt fetched by one worker serves the others
ROBOTS_WAIT = 30.0  # the longest a worker waits for the robots.txt another worker is fetching


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

