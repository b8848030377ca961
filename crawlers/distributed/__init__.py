"""Distributed crawling: several crawler workers on any number of machines share one crawl through Redis.

Switched on by the ``redis_url`` setting (``TECHSCOUT_REDIS_URL``). The package is split by role, one Scrapy
component per module, each built ``from_crawler`` and reading the crawl's one
:class:`~core.settings.Settings` object:

* :mod:`.connection` — the Redis client and the name of every key;
* :mod:`.serializer` — requests as JSON (never pickle);
* :mod:`.frontier` — the **leased frontier** (``techscout:<source>:requests``, a sorted set by priority): ``pop``
  leases a request instead of removing it; the worker extends its leases while it lives and acknowledges a request
  once its response and every article it produced are stored; requests of a dead worker return to the frontier
  when their lease expires. The **seen-request fingerprints** (``:seen``) are scrapy-redis' ``RFPDupeFilter``;
* :mod:`.gate` — **per-host politeness** (``techscout:host:<host>``): right before each download a worker must
  ``SET NX PX delay`` that key, so one host sees at most one request per ``delay`` whatever the number of workers;
* :mod:`.robots` — **robots.txt** (``techscout:robots:<host>``), fetched by one worker and parsed by all;
* :mod:`.state` — the **incremental state** (``:urls``, canonical URL → :class:`~core.items.UrlState`);
* :mod:`.jobs` — the **job** (``techscout:job:<source>``: run id, source, page bound) and the active jobs;
* :mod:`.dedup` — the **duplicate lookup state** (``techscout:dedup:*``) behind the interface the dedup stage
  uses; the near-duplicate rule is :mod:`pipelines.dedup`'s;
* :mod:`.pipelines` — the item pipelines of a worker (plain stages in a thread of their own, the store writing
  each article at once);
* :mod:`.worker` — ``techscout worker``: the spider on the shared frontier, the lease keeper, the worker loop.

Documents themselves go to the shared store (Elasticsearch, or one embedded SQLite file in a shared data
directory), keyed by canonical-URL id, so a page fetched twice after a worker died is still stored once.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# the public names and the module each lives in; a module is imported when one of its names is first used, so
# importing the package (e.g. to ask whether a crawl is active) does not load Scrapy, scrapy-redis or the dedup
# kernels
_HOMES = {
    "connection": ("JOBS_KEY", "PREFIX", "connect", "host_key", "is_distributed", "job_key", "redis_url_of",
                   "robots_key", "source_key", "worker_id"),
    "dedup": ("RedisDedupIndex", "SharedDedupPipeline"),
    "frontier": ("LEASE_SECONDS", "LeasedQueue", "LeasingScheduler"),
    "gate": ("DEFAULT_HANDLER", "GATE_ALLOWANCE", "HostGateHandler", "slot_ms", "try_host_slot",
             "wait_for_host_slot"),
    "jobs": ("active_jobs", "enqueue_crawl", "enqueue_crawls", "enqueue_scheduled", "finish_job", "job_pending",
             "seed_url_states", "source_from_dict", "source_to_dict", "start_requests_of", "take_page_budget"),
    "pipelines": ("SharedStorePipeline", "ThreadedExtractPipeline", "ThreadedItemPipelines", "off_reactor",
                  "pipeline_thread"),
    "robots": ("ROBOTS_SECONDS", "ROBOTS_WAIT", "SharedRobotsTxt"),
    "serializer": ("JsonSerializer", "dumps", "loads"),
    "state": ("RedisUrlStates", "url_state_from_json"),
}
_MODULE_OF = {name: module for module, names in _HOMES.items() for name in names}

if TYPE_CHECKING:

    from core.errors import DistributedError
    from crawlers.distributed.connection import (
        JOBS_KEY,
        PREFIX,
        connect,
        host_key,
        is_distributed,
        job_key,
        redis_url_of,
        robots_key,
        source_key,
        worker_id,
    )
    from crawlers.distributed.dedup import RedisDedupIndex, SharedDedupPipeline
    from crawlers.distributed.frontier import LEASE_SECONDS, LeasedQueue, LeasingScheduler
    from crawlers.distributed.gate import (
        DEFAULT_HANDLER,
        GATE_ALLOWANCE,
        HostGateHandler,
        slot_ms,
        try_host_slot,
        wait_for_host_slot,
    )
    from crawlers.distributed.jobs import (
        active_jobs,
        enqueue_crawl,
        enqueue_crawls,
        enqueue_scheduled,
        finish_job,
        job_pending,
        seed_url_states,
        source_from_dict,
        source_to_dict,
        start_requests_of,
        take_page_budget,
    )
    from crawlers.distributed.pipelines import (
        SharedStorePipeline,
        ThreadedExtractPipeline,
        ThreadedItemPipelines,
        off_reactor,
        pipeline_thread,
    )
    from crawlers.distributed.robots import ROBOTS_SECONDS, ROBOTS_WAIT, SharedRobotsTxt
    from crawlers.distributed.serializer import JsonSerializer
    from crawlers.distributed.state import RedisUrlStates, url_state_from_json


def __getattr__(name: str) -> Any:
    if name == "DistributedError":
        from core.errors import DistributedError

        return DistributedError
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)


__all__ = [
    "DEFAULT_HANDLER",
    "GATE_ALLOWANCE",
    "JOBS_KEY",
    "LEASE_SECONDS",
    "PREFIX",
    "ROBOTS_SECONDS",
    "ROBOTS_WAIT",
    "DistributedError",
    "HostGateHandler",
    "JsonSerializer",
    "LeasedQueue",
    "LeasingScheduler",
    "RedisDedupIndex",
    "RedisUrlStates",
    "SharedDedupPipeline",
    "SharedRobotsTxt",
    "SharedStorePipeline",
    "ThreadedExtractPipeline",
    "ThreadedItemPipelines",
    "active_jobs",
    "connect",
    "enqueue_crawl",
    "enqueue_crawls",
    "enqueue_scheduled",
    "finish_job",
    "host_key",
    "is_distributed",
    "job_key",
    "job_pending",
    "off_reactor",
    "pipeline_thread",
    "redis_url_of",
    "robots_key",
    "seed_url_states",
    "slot_ms",
    "source_from_dict",
    "source_key",
    "source_to_dict",
    "start_requests_of",
    "take_page_budget",
    "try_host_slot",
    "url_state_from_json",
    "wait_for_host_slot",
    "worker_id",
]
