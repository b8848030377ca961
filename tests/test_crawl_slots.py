"""The scheduler's crawl slots: at most ``max_crawls`` crawls at once, a further one only while the measured
memory of the running crawl processes leaves room for it, and a crawl that waited says so. The "crawls" here
are real processes holding real memory, measured through /proc like the launcher's crawl processes."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import pytest

from crawlers.launch import process_memory_mb
from scheduler import CrawlSlots

HOLD = "import sys, time; b = bytearray(int(sys.argv[1]) * 1024 * 1024); print('ready', flush=True); time.sleep(60)"


@pytest.fixture
def holders() -> Iterator[list[subprocess.Popen[str]]]:
    procs: list[subprocess.Popen[str]] = []
    yield procs
    for proc in procs:
        proc.kill()
        proc.wait()


def hold(procs: list[subprocess.Popen[str]], mb: int) -> subprocess.Popen[str]:
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(mb)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    procs.append(proc)
    return proc


def acquire_in_thread(slots: CrawlSlots, name: str, stop: threading.Event) -> tuple[threading.Thread, list]:
    out: list[float | None] = []
    thread = threading.Thread(target=lambda: out.append(slots.acquire(name, stop)), daemon=True)
    thread.start()
    return thread, out


def test_memory_of_a_real_process_is_measured(holders: list[subprocess.Popen[str]]) -> None:
    proc = hold(holders, 80)
    now, peak = process_memory_mb(proc.pid)
    assert now >= 80 and peak >= 80
    proc.kill()
    proc.wait()
    assert process_memory_mb(proc.pid) == (0.0, 0.0)


# a crawl stand-in with a helper process of its own (as a crawl's extraction process or browser): the child
# holds 80 MB, the crawl process itself little
HOLD_WITH_CHILD = (
    "import subprocess, sys, time; child = subprocess.Popen([sys.executable, '-c', sys.argv[1], '80'], "
    "stdout=subprocess.PIPE, text=True); assert child.stdout.readline().strip() == 'ready'; "
    "print('ready', child.pid, flush=True); time.sleep(60)"
)


def test_a_crawls_memory_counts_the_processes_it_started(holders: list[subprocess.Popen[str]]) -> None:
    proc = subprocess.Popen([sys.executable, "-c", HOLD_WITH_CHILD, HOLD], stdout=subprocess.PIPE, text=True,
                            start_new_session=True)  # fmt: skip
    assert proc.stdout is not None
    ready, child = proc.stdout.readline().split()
    assert ready == "ready"
    holders.append(proc)
    try:
        now, peak = process_memory_mb(proc.pid)
        assert now >= 80  # the child's 80 MB count for the crawl
        assert peak < 80  # the peak is the crawl process's own: a crawl started beside others has no helper
    finally:
        os.kill(int(child), signal.SIGKILL)


def test_no_more_than_max_crawls_run_and_a_waiting_crawl_is_reported(caplog: pytest.LogCaptureFixture) -> None:
    slots = CrawlSlots(limit=2, memory_mb=100_000, pids=lambda: [])
    stop = threading.Event()
    assert slots.acquire("a", stop) is not None and slots.acquire("b", stop) is not None
    caplog.set_level(logging.INFO, logger="techscout.scheduler")
    thread, out = acquire_in_thread(slots, "c", stop)
    time.sleep(1.0)
    assert out == [] and slots.running == 2  # the third crawl waits
    slots.release()
    thread.join(10)
    assert out and out[0] is not None and out[0] >= 0.9
    assert slots.running == 2
    messages = [r.getMessage() for r in caplog.records]
    assert any("crawl c waits for a slot: 2 crawls running (max_crawls 2)" in m for m in messages), messages
    assert any(m.startswith("crawl c waited") for m in messages), messages


def test_a_crawl_waits_while_the_running_ones_leave_no_memory_for_it(
    holders: list[subprocess.Popen[str]],
) -> None:
    running = hold(holders, 120)
    slots = CrawlSlots(limit=8, memory_mb=200, pids=lambda: [p.pid for p in holders if p.poll() is None])
    stop = threading.Event()
    assert slots.acquire("first", stop) == pytest.approx(0, abs=0.5)  # one crawl always runs
    thread, out = acquire_in_thread(slots, "second", stop)
    time.sleep(1.5)
    assert out == []  # 120 MB measured + another ~120 MB > 200 MB
    assert slots.largest >= 120
    running.kill()
    running.wait()
    slots.release(peak_mb=130)
    thread.join(10)
    assert out and out[0] is not None and out[0] >= 1.0


def test_a_stopping_scheduler_starts_no_waiting_crawl() -> None:
    slots = CrawlSlots(limit=1, memory_mb=100_000, pids=lambda: [])
    stop = threading.Event()
    assert slots.acquire("a", stop) is not None
    thread, out = acquire_in_thread(slots, "b", stop)
    time.sleep(0.6)
    stop.set()
    thread.join(10)
    assert out == [None] and slots.running == 1
