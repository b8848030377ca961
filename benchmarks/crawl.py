"""Crawl throughput: techscout's full pipeline against bare Scrapy fetching the same local site, same run.

    .venv/bin/python benchmarks/crawl.py [--repeat 3]

A local HTTP server (a subprocess) serves every real page of ``corpus/web-zh`` and ``corpus/zh-extraction`` as
one site: paginated list pages linking to ~100 article pages. Both crawlers run with no delay and the same
concurrency; each runs in its own process and reports its own crawl time (spider open → close, so interpreter
start-up is not counted; "process s" is the whole process, start-up included) and its peak resident memory. Printed: pages/s, the ratio to bare Scrapy, peak memory.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from crawlers.launch import memory_rollup_mb, one_process_mb, process_tree  # noqa: E402  (the scheduler's own view of a crawl's processes)

CORPUS = Path(os.environ.get("TECHSCOUT_CORPUS", REPO.parent / "shared" / "corpus"))
PER_PAGE = 10


def build_site() -> dict[str, tuple[str, bytes]]:
    pages = sorted((CORPUS / "web-zh").glob("*/*.html")) + sorted((CORPUS / "zh-extraction" / "pages").glob("*.html"))
    site: dict[str, tuple[str, bytes]] = {}
    links = []
    for i, path in enumerate(pages):
        url = f"/a/2021/{i:04d}.html"
        site[url] = ("text/html", path.read_bytes())  # served as saved: no charset header, original encoding
        links.append(url)
    n_lists = (len(links) + PER_PAGE - 1) // PER_PAGE
    for p in range(n_lists):
        items = "".join(
            f'<li><a href="{u}">科技新闻第{p * PER_PAGE + j}篇文章的标题</a></li>'
            for j, u in enumerate(links[p * PER_PAGE : (p + 1) * PER_PAGE])
        )
        nxt = f'<a href="/list_{p + 2}.html">下一页</a>' if p + 1 < n_lists else ""
        body = f"<html><head><meta charset='utf-8'><title>列表</title></head><body><ul>{items}</ul>{nxt}</body></html>"
        site["/" if p == 0 else f"/list_{p + 1}.html"] = ("text/html; charset=utf-8", body.encode())
    site["/robots.txt"] = ("text/plain", b"User-agent: *\nAllow: /\n")
    return site


def serve(site: dict[str, tuple[str, bytes]]) -> tuple[ThreadingHTTPServer, str]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            ctype, body = site.get(self.path, ("text/html", b"<h1>404</h1>"))
            self.send_response(200 if self.path in site else 404)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    class Server(ThreadingHTTPServer):
        # socketserver's listen backlog is 5: with 8 connections opened at once the kernel drops the rest of
        # the SYNs and the client resends them 1 s later — stalls of the whole crawl that made the anchor's
        # speed vary from 21 to 103 pages/s between runs on a quiet machine
        request_queue_size = 128

    httpd = Server(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd, f"http://127.0.0.1:{httpd.server_address[1]}"


BARE = textwrap.dedent(
    """
    import json, resource, sys, time
    import scrapy
    from scrapy.crawler import CrawlerProcess
    from scrapy.linkextractors import LinkExtractor

    class Bare(scrapy.Spider):
        name = "bare"
        async def start(self):
            yield scrapy.Request(sys.argv[1] + "/")
        def parse(self, response):
            if not hasattr(response, "text") or "/a/" in response.url:
                return  # article pages: fetched, not followed (as techscout does)
            for link in LinkExtractor().extract_links(response):
                if link.url.startswith(sys.argv[1]):  # stay on the site, like techscout does
                    yield response.follow(link.url, self.parse)

    process = CrawlerProcess({"LOG_LEVEL": "ERROR", "ROBOTSTXT_OBEY": True, "DOWNLOAD_DELAY": 0,
                              "CONCURRENT_REQUESTS_PER_DOMAIN": 8, "TELNETCONSOLE_ENABLED": False})
    crawler = process.create_crawler(Bare)
    process.crawl(crawler)
    process.start()
    st = crawler.stats.get_stats()
    seconds = (st["finish_time"] - st["start_time"]).total_seconds()
    print(json.dumps({"pages": st.get("response_received_count", 0), "seconds": seconds,
                      "maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
    """
)

FULL_BODY = textwrap.dedent(
    """
    import json, resource, sys
    sys.path.insert(0, sys.argv[3])
    from core.settings import load_settings
    from crawlers.sources import source_from_mapping
    from crawlers.runner import crawl

    settings = load_settings(data=sys.argv[2], env={"TECHSCOUT_DELAY": "0", "TECHSCOUT_CONCURRENCY": "8",
                                                    "TECHSCOUT_LOG_LEVEL": "ERROR",
                                                    "TECHSCOUT_ALLOW_PRIVATE_URLS": "1",
                                                    "TECHSCOUT_EXTRACT_PROCESSES": sys.argv[5]})
    src = source_from_mapping({"name": "bench", "start_urls": [sys.argv[1] + "/"], "max_list_pages": 100})
    stages = timed_stages() if sys.argv[4] == "stages" else {}
    [summary] = crawl(settings, [src], max_pages=1000)
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    print(json.dumps({"pages": summary["fetched"], "stored": summary["new"], "seconds": summary["seconds"],
                      "maxrss_kb": own.ru_maxrss, "stages": stages, "cpu": own.ru_utime + own.ru_stime,
                      "helper_cpu": kids.ru_utime + kids.ru_stime}))
    """
)

# --stages: each stage's process_item timed in the crawl process (CPU seconds of this thread, summed per stage)
STAGE_TIMERS = textwrap.dedent(
    """
    import functools, importlib, inspect, time

    def timed_stages():
        from crawlers.settings import ITEM_PIPELINES
        import pipelines.extract.pipeline as extract_pipeline
        from crawlers.spiders.generic import GenericSpider
        totals = {}

        def timer(name, fn):
            @functools.wraps(fn)
            def wrapped(*a, **k):
                t0 = time.thread_time()
                try:
                    return fn(*a, **k)
                finally:
                    totals[name] = totals.get(name, 0.0) + time.thread_time() - t0
            return wrapped

        for path in ITEM_PIPELINES:
            module, _, name = path.rpartition(".")
            cls = getattr(importlib.import_module(module), name)
            stage = name.removesuffix("Pipeline").lower()
            if stage == "extract":  # async: its work is the synchronous extract_page inside
                extract_pipeline.extract_page = timer("extract", extract_pipeline.extract_page)
            elif not inspect.iscoroutinefunction(cls.process_item):
                cls.process_item = timer(stage, cls.process_item)
            if hasattr(cls, "close_spider"):
                cls.close_spider = timer(stage, cls.close_spider)
        def timed_generator(fn):
            @functools.wraps(fn)
            def wrapped(*a, **k):
                it = fn(*a, **k)
                while True:
                    t0 = time.thread_time()
                    try:
                        value = next(it)
                    except StopIteration:
                        return
                    finally:
                        totals["spider"] = totals.get("spider", 0.0) + time.thread_time() - t0
                    yield value
            return wrapped

        for attr in ("parse_listing", "parse_article"):  # the spider's own work: list detection, Page items
            setattr(GenericSpider, attr, timed_generator(getattr(GenericSpider, attr)))
        return totals
    """
)


FULL = STAGE_TIMERS + FULL_BODY


HELPER_EVERY_S = 0.3  # how often the memory of a crawl's extraction processes is read


def run_child(code: str, *args: str) -> dict[str, float]:
    """Run a crawler in its own process; its result, its wall time, and the peak memory of the processes it
    started (its extraction processes), read from here: reading a process's PSS costs the kernel ~10 ms, which
    a watcher inside the crawl process would take from the crawl it measures."""
    # a real file: Scrapy reads callbacks' source code
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as f:
        f.write(code)
    helper_peak: dict[int, float] = {}
    helper_pss: dict[int, float] = {}
    try:
        t0 = time.perf_counter()
        proc = subprocess.Popen([sys.executable, f.name, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, cwd=REPO)
        while True:
            try:
                stdout, stderr = proc.communicate(timeout=HELPER_EVERY_S)
                break
            except subprocess.TimeoutExpired:
                if time.perf_counter() - t0 > 600:
                    proc.kill()
                    raise SystemExit("child ran over 600 s") from None
                for pid in process_tree(proc.pid)[1:]:
                    pss, hwm = one_process_mb(pid)
                    helper_peak[pid] = max(helper_peak.get(pid, 0.0), hwm)
                    helper_pss[pid] = max(helper_pss.get(pid, 0.0), pss)
        wall = time.perf_counter() - t0
    finally:
        os.unlink(f.name)
    if proc.returncode != 0:
        raise SystemExit(f"child failed:\n{stderr[-3000:]}")
    result: dict[str, float] = json.loads(stdout.strip().splitlines()[-1])
    result["wall"] = wall
    result["helper_peak_mb"] = max(helper_peak.values(), default=0.0)
    result["helper_pss_mb"] = max(helper_pss.values(), default=0.0)
    return result


RUN_GOAL_MB = 1536.0  # issue #22: `techscout run` with every shipped source due at once stays under 1.5 GB


def _kind(pid: int) -> str:
    """What a process of the run is: ``crawl SOURCE`` for a crawl process, ``extraction process`` for one a
    crawl forked, else the program's name (a browser, Playwright's driver)."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return "exited"
    if "cli" in argv and "crawl" in argv:
        after = argv[argv.index("crawl") + 1 :]
        try:  # forked by its crawl: the same command line
            parent = int(Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[1])
            if Path(f"/proc/{parent}/cmdline").read_bytes().decode(errors="replace").split("\0") == argv:
                return "extraction process"
        except (OSError, ValueError, IndexError):
            pass
        return "crawl " + (after[0] if after else "?")
    if not argv[0]:
        return "exiting"  # a process that has begun to exit: its command line is gone, its memory not yet
    program = Path(argv[0].split()[0]).name
    return "chromium" if "chrom" in program else program


def _memory_mb(pid: int) -> tuple[float, float]:
    """(proportional set size, resident set size) of one process in MB; (0, 0) once it is gone."""
    rollup = memory_rollup_mb(pid) or {}
    return rollup.get("Pss", 0.0), rollup.get("Rss", 0.0)


def run_case(base: str, bare_peak_mb: float) -> None:
    """Every shipped source, pointed at the local site, due at the same moment in one `techscout run`: the whole
    process tree's memory sampled every 0.2 s until every source has a finished run."""
    import signal

    import yaml

    from core.settings import SHIPPED_SOURCES

    keep = ("name", "title", "content_type", "region", "domains", "render_js")
    with tempfile.TemporaryDirectory() as tmp:
        sources, data = Path(tmp) / "sources", Path(tmp) / "data"
        sources.mkdir()
        names = []
        for path in sorted(Path(SHIPPED_SOURCES).glob("*.yaml")):
            doc = yaml.safe_load(path.read_text(encoding="utf-8"))
            if doc.get("enabled") is False:
                continue
            doc = {k: v for k, v in doc.items() if k in keep} | {"start_urls": [base + "/"], "max_list_pages": 100,
                                                                  "schedule": "every 24h"}
            (sources / path.name).write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
            names.append(doc["name"])
        env = {**os.environ, "TECHSCOUT_DELAY": "0", "TECHSCOUT_CONCURRENCY": "8", "TECHSCOUT_LOG_LEVEL": "INFO",
               "TECHSCOUT_ALLOW_PRIVATE_URLS": "1"}
        log = Path(tmp) / "run.log"
        t0 = time.perf_counter()
        with log.open("w") as out:
            proc = subprocess.Popen([sys.executable, "-m", "cli", "run", "--no-web", "--sources", str(sources),
                                     "--data", str(data)], cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)
        peak_pss = peak_rss = 0.0
        crawl_peaks: dict[str, float] = {}  # python crawl processes (`cli crawl SOURCE`), by source
        other_peaks: dict[str, float] = {}  # the scheduler itself; browsers and their drivers, by kind
        most_at_once = 0
        finished: set[str] = set()
        try:
            while proc.poll() is None and time.perf_counter() - t0 < 900:
                tree = process_tree(proc.pid)
                mem = {pid: _memory_mb(pid) for pid in tree}
                peak_pss = max(peak_pss, sum(m[0] for m in mem.values()))
                peak_rss = max(peak_rss, sum(m[1] for m in mem.values()))
                crawls = 0
                for pid in tree:
                    kind = "scheduler (techscout run)" if pid == proc.pid else _kind(pid)
                    if kind.startswith("crawl "):
                        crawls += 1
                        source = kind.removeprefix("crawl ")
                        crawl_peaks[source] = max(crawl_peaks.get(source, 0.0), mem[pid][1])
                    else:
                        other_peaks[kind] = max(other_peaks.get(kind, 0.0), mem[pid][1])
                most_at_once = max(most_at_once, crawls)
                text = log.read_text(encoding="utf-8", errors="replace")
                finished = {n for n in names if f"crawl {n}: " in text}  # the launcher's end-of-crawl line
                if len(finished) == len(names):
                    break
                time.sleep(0.2)
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=120)
            except subprocess.TimeoutExpired:
                proc.kill()
        seconds = time.perf_counter() - t0
        runs = json.loads(subprocess.run([sys.executable, "-m", "cli", "runs", "--json", "--data", str(data)],
                                         cwd=REPO, env=env, capture_output=True, text=True).stdout or "[]")
        text = log.read_text(encoding="utf-8", errors="replace")
    statuses = {r["source"]: r.get("status") for r in runs}
    waited = sum(1 for r in runs if r.get("waited_for_slot"))
    per_crawl = max(crawl_peaks.values(), default=0.0)
    print(f"\n`techscout run`: {len(names)} shipped sources due at once, each pointed at the local site "
          f"(one data directory, as deployed)")
    print(f"finished runs: {sum(1 for n in names if statuses.get(n) in ('ok', 'partial'))} of {len(names)} "
          f"({', '.join(f'{k} {v}' for k, v in sorted(statuses.items()) if v not in ('ok', 'partial')) or 'all ok'}); "
          f"most crawl processes at once: {most_at_once}; runs that waited for a slot: {waited}; "
          f"{seconds:.0f} s")
    print(f"{'measure':44} {'MB':>8} {'goal':>8} {'ratio':>6}")
    print(f"{'whole run, peak of summed PSS':44} {peak_pss:>8.0f} {RUN_GOAL_MB:>8.0f} {peak_pss / RUN_GOAL_MB:>6.2f}")
    print(f"{'whole run, peak of summed RSS (shared counted twice)':44} {peak_rss:>8.0f} {RUN_GOAL_MB:>8.0f} "
          f"{peak_rss / RUN_GOAL_MB:>6.2f}")
    print(f"{'one crawl process (Python), largest peak RSS':44} {per_crawl:>8.0f} {250:>8.0f} {per_crawl / 250:>6.2f}")
    print(f"{'  the same, against bare Scrapy (same run)':44} {per_crawl:>8.0f} {bare_peak_mb:>8.0f} "
          f"{per_crawl / max(bare_peak_mb, 1):>6.2f}")
    print("peak RSS by process (MB): crawl processes " + ", ".join(f"{k} {v:.0f}" for k, v in sorted(crawl_peaks.items()))
          + "; " + ", ".join(f"{k} {v:.0f}" for k, v in sorted(other_peaks.items())))
    if "waits for a slot" in text:
        print("the scheduler's slot reports: " + "; ".join(
            line.split("techscout")[-1].strip()[:120] for line in text.splitlines() if "waits for a slot" in line)[:600])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--stages", action="store_true",
                        help="also time each pipeline stage in the crawl process (CPU ms per page)")
    parser.add_argument("--run", action="store_true",
                        help="also run `techscout run` with every shipped source due at once (memory of the whole run)")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)  # the site's own process
    args = parser.parse_args()
    site = build_site()
    if args.serve:
        httpd, base = serve(site)
        print(base, flush=True)
        sys.stdin.read()  # until the benchmark closes our stdin (or exits)
        return
    # the site runs in a process of its own, as a real site does: beside the crawlers, not inside the process
    # that watches them
    server = subprocess.Popen([sys.executable, __file__, "--serve"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              text=True, cwd=REPO)
    assert server.stdout is not None and server.stdin is not None
    base = server.stdout.readline().strip()
    articles = sum(1 for k in site if k.startswith("/a/"))
    bare_runs: list[dict[str, Any]] = []
    full_runs: dict[int, list[dict[str, Any]]] = {1: [], 0: []}  # extract_processes → runs
    for _ in range(args.repeat):
        bare_runs.append(run_child(BARE, base))
        for processes, runs in full_runs.items():
            with tempfile.TemporaryDirectory() as data:
                runs.append(run_child(FULL, base, data, str(REPO), "stages" if args.stages else "-", str(processes)))
    if args.run:
        run_case(base, max(x["maxrss_kb"] for x in bare_runs) / 1024)
    server.stdin.close()
    server.wait(timeout=30)

    def rate(runs: list[dict[str, Any]]) -> float:
        return statistics.median(r["pages"] / r["seconds"] for r in runs)

    bare_rate = rate(bare_runs)
    print(f"site: {articles} real article pages + {len(site) - articles - 1} list pages, served on loopback; "
          f"median of {args.repeat} runs; {os.cpu_count()} CPU cores")
    print(f"{'crawler':48} {'pages':>6} {'stored':>7} {'seconds':>8} {'pages/s':>8} {'ratio':>6} {'process s':>9} "
          f"{'peak MB':>8} {'+ extraction process PSS (RSS) MB':>34}")
    rows = (("bare Scrapy (fetch + follow links)", bare_runs),
            ("techscout crawl, extraction process (default)", full_runs[1]),
            ("techscout crawl, all in one process", full_runs[0]))
    for name, runs in rows:
        last, r = runs[-1], rate(runs)
        helper = max(x.get("helper_peak_mb", 0) for x in runs)
        helper_pss = max(x.get("helper_pss_mb", 0) for x in runs)
        print(f"{name:48} {int(last['pages']):>6} {int(last.get('stored', 0)) or '-':>7} "
              f"{statistics.median(x['seconds'] for x in runs):>8.2f} {r:>8.1f} {r / bare_rate:>6.2f} "
              f"{statistics.median(x['wall'] for x in runs):>9.2f} "
              f"{max(x['maxrss_kb'] for x in runs) / 1024:>8.0f} "
              f"{f'{helper_pss:.0f} ({helper:.0f})' if helper else '-':>34}")
    if rate(full_runs[1]) and rate(full_runs[0]):
        print(f"the extraction process: {rate(full_runs[1]) / rate(full_runs[0]):.2f}x the one-process crawl's speed")

    if args.stages:
        print_stages(full_runs[0], "all in one process")
        print_stages(full_runs[1], "with the extraction process")


def print_stages(runs: list[dict[str, Any]], label: str) -> None:
    """CPU per page of each stage of the crawl process (median over runs), the rest of the process, and the
    extraction process's CPU when there is one."""
    pages = statistics.median(r["pages"] for r in runs)
    names = [n for n in runs[0]["stages"] if any(r["stages"].get(n) for r in runs)]
    print(f"\nper stage, {label}: CPU ms per fetched page ({int(pages)} pages; median of {len(runs)} runs)")
    print(f"{'stage':12} {'ms/page':>8} {'share':>6}")
    cpu = statistics.median(r["cpu"] for r in runs)
    staged = 0.0
    for name in names:
        ms = statistics.median(r["stages"].get(name, 0.0) for r in runs) * 1000 / pages
        staged += ms
        print(f"{name:12} {ms:>8.2f} {ms * pages / 1000 / cpu:>6.0%}")
    rest = cpu * 1000 / pages - staged
    print(f"{'the rest':12} {rest:>8.2f} {rest * pages / 1000 / cpu:>6.0%}   (Scrapy, start-up, imports, warm-up)")
    print(f"{'process':12} {cpu * 1000 / pages:>8.2f}   CPU s {cpu:.2f}")
    helper = statistics.median(r.get("helper_cpu", 0.0) for r in runs)
    if helper:
        print(f"{'extraction process':12} {helper * 1000 / pages:>8.2f}   CPU s {helper:.2f} (extract, on another core)")


if __name__ == "__main__":
    main()
