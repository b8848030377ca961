"""Item pipelines of a worker: the plain stages run in a thread of their own, so the reactor sends requests on
time while pages are extracted; the store writes each article at once (a lease ends only once its articles are
stored) and marks it known in the shared incremental state."""

from __future__ import annotations

import asyncio
import functools
import inspect
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from core.errors import DistributedError
from crawlers.distributed.state import RedisUrlStates

T = TypeVar("T")


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
