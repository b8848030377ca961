"""Extraction in processes beside the crawl (pipelines/extract/processes.py): the same extraction as in the crawl
process, from another process; nothing lost when that process dies; it never outlives its crawl and a stop
sent to the crawl's process group does not cut the pages in flight."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from core.errors import PageTooComplex
from core.items import Page
from core.procs import helper_processes
from pipelines.extract import processes
from pipelines.extract.pipeline import extract_page
from tests.conftest import LOCAL_SITES, REPO, MockServer, run_cli, write_source

FIXTURES = REPO / "tests" / "fixtures" / "extract"


def _page(path: Path) -> Page:
    url = f"http://www.example.gov.cn/{path.name}"
    return Page(url=url, final_url=url, status=200, html=path.read_text(encoding="utf-8"), encoding="utf-8",
                source="fixture", fetched="2026-12-06T08:00:00+08:00")  # fmt: skip


def _pages() -> list[Page]:
    return [_page(p) for p in sorted(FIXTURES.glob("*.html"))]


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as fh:
            return not any(line.startswith("State:") and "Z" in line.split()[1] for line in fh)
    except OSError:
        return False


def _gone_within(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.05)
    return False


def test_extraction_processes_only_on_idle_cores(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "cpu_count", lambda: 1)
    assert helper_processes(1) == 0  # one core: the crawl's own
    monkeypatch.setattr(os, "cpu_count", lambda: 8)
    assert helper_processes(0) == 0
    assert helper_processes(3) == 3 and helper_processes(20) == 7
    assert helper_processes(1, busy=8) == 0 and helper_processes(4, busy=6) == 2  # other crawls hold cores


def test_a_crawl_that_cannot_fork_extracts_in_its_own_process(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def no_fork(self: processes.ExtractionProcesses) -> processes.ExtractionProcesses:
        raise BlockingIOError(11, "Resource temporarily unavailable")  # what fork() raises at the process limit

    monkeypatch.setattr(processes.ExtractionProcesses, "start", no_fork)
    monkeypatch.setattr(os, "cpu_count", lambda: 4)
    caplog.set_level(logging.WARNING, logger="techscout.extract")
    assert processes.start(1) is None and processes.running() is None
    assert any("无法启动提取进程" in r.getMessage() for r in caplog.records)


def test_pages_extracted_in_the_extraction_process_equal_those_extracted_here() -> None:
    pages = _pages()
    assert len(pages) >= 4
    pool = processes.ExtractionProcesses(1).start()
    try:
        assert pool.pids and os.getpid() not in pool.pids and all(_alive(p) for p in pool.pids)

        async def all_pages() -> list:
            return await asyncio.gather(*(pool.extract(extract_page, p) for p in pages))

        there = asyncio.run(all_pages())
        assert pool.count() == 1
    finally:
        pool.close()
    assert not pool.broken
    here = [extract_page(p) for p in pages]
    assert [e.to_dict() for e in there] == [e.to_dict() for e in here]
    assert any(e.text for e in there)


def test_every_extraction_process_is_known_by_its_pid() -> None:
    pool = processes.ExtractionProcesses(3).start()
    try:
        assert len(set(pool.pids)) == 3 and os.getpid() not in pool.pids and all(_alive(p) for p in pool.pids)
        assert pool.count() == 3
    finally:
        pool.close()
    assert pool.count() == 0 and all(_gone_within(p, 10) for p in pool.pids)


def test_a_too_complex_page_is_reported_from_the_extraction_process() -> None:
    html = "<html><body>" + "<div>" * 1000 + "<p>科技创新推动产业升级。</p>" * 10 + "</div>" * 1000 + "</body></html>"
    page = Page(url="http://x.example.cn/a.html", final_url="", status=200, html=html, encoding="utf-8",
                source="fixture", fetched="2026-12-06T08:00:00+08:00")  # fmt: skip
    pool = processes.ExtractionProcesses(1).start()
    try:
        with pytest.raises(PageTooComplex, match="depth"):
            asyncio.run(pool.extract(extract_page, page))
        assert not pool.broken  # a refused page is an answer, not a failure of the process
    finally:
        pool.close()


def test_when_the_extraction_process_dies_the_pages_are_extracted_here(caplog: pytest.LogCaptureFixture) -> None:
    pages = _pages()
    pool = processes.ExtractionProcesses(1).start()
    try:
        os.kill(pool.pids[0], signal.SIGKILL)
        assert _gone_within(pool.pids[0], 10)
        caplog.set_level(logging.WARNING, logger="techscout.extract")

        async def all_pages() -> list:
            return await asyncio.gather(*(pool.extract(extract_page, p) for p in pages))

        got = asyncio.run(all_pages())
    finally:
        pool.close()
    assert pool.broken and pool.count() == 0
    assert [e.to_dict() for e in got] == [extract_page(p).to_dict() for p in pages]  # none lost
    warnings = [r for r in caplog.records if "提取进程意外退出" in r.getMessage()]
    assert len(warnings) == 1  # said once, not per page


# A crawl stand-in: starts its extraction process in a process group of its own, says its pids, and on SIGTERM
# (sent to the whole group, as the launcher stops a crawl) extracts one more page through that process.
CRAWL = """
import asyncio, json, os, signal, sys, time
sys.path.insert(0, sys.argv[1])
from pathlib import Path
from core.items import Page
from pipelines.extract import processes
from pipelines.extract.pipeline import extract_page

html = Path(sys.argv[2]).read_text(encoding="utf-8")
page = Page(url="http://www.example.gov.cn/a.html", final_url="", status=200, html=html, encoding="utf-8",
            source="fixture", fetched="2026-12-06T08:00:00+08:00")
pool = processes.ExtractionProcesses(1).start()
stopped = []
signal.signal(signal.SIGTERM, lambda *a: stopped.append(1))
print(json.dumps({"crawl": os.getpid(), "extraction": pool.pids}), flush=True)
while not stopped:
    time.sleep(0.05)
ext = asyncio.run(pool.extract(extract_page, page))
print(json.dumps({"title": ext.title, "broken": pool.broken}), flush=True)
time.sleep(60)  # killed here by the test
"""


def test_the_extraction_process_survives_a_stop_and_dies_with_its_crawl() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", CRAWL, str(REPO), str(FIXTURES / "news.html")],
        stdout=subprocess.PIPE, text=True, start_new_session=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        pids = json.loads(proc.stdout.readline())
        [helper] = pids["extraction"]
        assert _alive(helper)
        os.killpg(proc.pid, signal.SIGTERM)  # the launcher's stop: the crawl closes, finishing its pages
        done = json.loads(proc.stdout.readline())
        assert done["title"] and done["broken"] is False  # extracted there: the stop did not kill the helper
        assert _alive(helper)
        os.kill(proc.pid, signal.SIGKILL)  # the crawl dies without closing anything
        proc.wait(10)
        assert _gone_within(helper, 10), "the extraction process outlived its crawl"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_a_crawl_with_an_extraction_process_stores_what_a_crawl_without_one_stores(
    mockserver: MockServer, tmp_path: Path
) -> None:
    sources = tmp_path / "sources"
    write_source(sources, "site-gbk", start_urls=[mockserver.url("gbk", "/kjdt/")])
    stored: dict[str, set[tuple[str, str]]] = {}
    for processes_setting in ("1", "0"):
        data = tmp_path / f"data-{processes_setting}"
        env = {"TECHSCOUT_DELAY": "0", "TECHSCOUT_EXTRACT_PROCESSES": processes_setting, **LOCAL_SITES}
        out = run_cli("crawl", "--sources", str(sources), "--json", data=data, env=env)
        assert out.returncode == 0, out.stderr[-2000:]
        [summary] = json.loads(out.stdout)
        assert summary["extraction_processes"] == helper_processes(int(processes_setting))
        assert summary["new"] >= 5
        found = run_cli("search", "", "--json", "--limit", "1000", data=data)
        stored[processes_setting] = {(h["url"], h["title"]) for h in json.loads(found.stdout)["hits"]}
    assert stored["1"] == stored["0"]
