"""Extraction in processes beside the crawl, on the machine's other cores.

A crawl runs Scrapy and every pipeline stage on one thread, and extraction (parsing the page, cutting it into
blocks, finding title, date and metadata) is about half of the CPU a page costs there: while a page is being
extracted, nothing is fetched. With ``extract_processes`` ≥ 1 (the default; never more than the machine's idle
cores, :func:`core.procs.helper_processes`: a crawl the scheduler starts while others run gets none) the crawl forks its extraction processes once, before its reactor starts and after its warm-up, so
they share the loaded modules, tables and models with it page for page; the extract stage then sends each page
there (:meth:`ExtractionProcesses.extract`) and the crawl process fetches and runs the other stages meanwhile.
The extraction is the same function with the same input, wherever it runs.

Lifetime: the extraction processes ignore SIGINT and SIGTERM (a stopped crawl still finishes the pages in
flight through them), are ended with the pool when the crawl ends, and are killed by the kernel if the crawl
process dies (parent-death signal SIGKILL). If one ends unexpectedly (killed, out of memory, a crash inside the
HTML parser), the crawl logs it once and extracts in its own process from then on, the pages that were in
flight included: no page is lost.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import multiprocessing
import os
import queue
import signal
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from core.items import Page
from core.procs import helper_processes, parent_alive, set_parent_death_signal
from pipelines.extract.result import Extraction

log = logging.getLogger("techscout.extract")


def _worker_start(parent: int, started: Any) -> None:
    """In a new extraction process: outlive neither the crawl nor a stop that the crawl handles itself; then
    say its pid."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    set_parent_death_signal(signal.SIGKILL)
    if not parent_alive(parent):  # the crawl ended before the signal was set
        os._exit(0)
    started.put(os.getpid())


def _nothing() -> None:
    pass


class ExtractionProcesses:
    """``n`` forked extraction processes; :meth:`extract` awaits one page's extraction there, or extracts in
    this process once a process has ended unexpectedly."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.pids: list[int] = []
        self.broken = False
        self._pool: ProcessPoolExecutor | None = None

    def start(self) -> ExtractionProcesses:
        """Fork the processes now (call it from the main thread before the reactor runs: the parent-death
        signal follows the thread that forks) and wait until each has started."""
        # Every object loaded so far (modules, tables, models) leaves the garbage collector for good, in this
        # process and in the children: a collection writes into each object it visits, which would copy every
        # page holding one into the process that collects. They live as long as the crawl anyway.
        gc.collect()
        gc.freeze()
        context = multiprocessing.get_context("fork")
        started = context.Queue()
        self._pool = ProcessPoolExecutor(
            max_workers=self.n, mp_context=context, initializer=_worker_start, initargs=(os.getpid(), started),
        )  # fmt: skip
        self._pool.submit(_nothing).result(timeout=60)  # the first task forks all of them
        self.pids = sorted(started.get(timeout=60) for _ in range(self.n))
        started.close()
        return self

    def count(self) -> int:
        """How many processes extract the pages now (0 once one has ended unexpectedly)."""
        return 0 if self.broken or self._pool is None else len(self.pids)

    async def extract(self, extract_page: Callable[[Page], Extraction], page: Page) -> Extraction:
        """``extract_page(page)`` (a module-level function) run in an extraction process (or in this one, see
        the module)."""
        if self._pool is not None and not self.broken:
            try:
                future: Future[Extraction] = self._pool.submit(extract_page, page)
                return await asyncio.wrap_future(future)
            except BrokenProcessPool:
                if not self.broken:
                    self.broken = True
                    log.warning("提取进程意外退出，本次抓取余下的网页在抓取进程内提取（不丢失网页）")
            except RuntimeError:  # submitted after close(): the crawl is ending
                pass
        return extract_page(page)

    def close(self) -> None:
        """End the processes (after the pages in flight)."""
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)


_RUNNING: ExtractionProcesses | None = None


def start(wanted: int) -> ExtractionProcesses | None:
    """Start this process's extraction processes (as many of ``wanted`` as the idle cores allow); None when
    there are none."""
    global _RUNNING
    n = helper_processes(wanted)
    if n == 0 or _RUNNING is not None:
        return _RUNNING
    pool = ExtractionProcesses(n)
    try:
        _RUNNING = pool.start()
    except (OSError, BrokenProcessPool, TimeoutError, queue.Empty) as exc:  # no memory or process left for a fork, …
        pool.close()
        log.warning("无法启动提取进程（%s），本次抓取在抓取进程内提取网页", exc)
    return _RUNNING


def running() -> ExtractionProcesses | None:
    """The extraction processes of this process, if started."""
    return _RUNNING


def count() -> int:
    """How many processes extract this process's pages now (0: it extracts them itself)."""
    return _RUNNING.count() if _RUNNING is not None else 0


def stop() -> None:
    """End this process's extraction processes, if any."""
    global _RUNNING
    pool, _RUNNING = _RUNNING, None
    if pool is not None:
        pool.close()

