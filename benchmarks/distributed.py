"""Crawler workers sharing one frontier through Redis against one local crawl, like for like. Prints one table.

Several local sites on distinct loopback addresses (127.0.0.2, 127.0.0.3, ...) serve a list page and article
pages (real saved pages), each answer taking a fixed time. Every run crawls the same pages of the same sites;
workers are started and ready before the crawls are enqueued. Two comparisons:

* **concurrency-bound** (slow answers, no politeness delay): ``n`` workers with ``c`` requests at a time per site
  each against one local ``techscout crawl`` allowed ``n × c`` requests at a time per site — the same total
  concurrency, so the ratio is what distribution itself adds or costs, not extra concurrency;
* **politeness-bound** (fast answers, a delay per host): one local crawl and ``n`` workers under the same delay;
  the per-host gate is the limit, so neither can exceed one request per delay per site (the ceiling printed).

Times are the sites' own: a run lasts from the first request a site saw to the last answer a site gave (process
start-up is not crawling); gaps are between the arrivals of consecutive requests to one host.

    .venv/bin/python benchmarks/distributed.py [--sites 4] [--articles 24] [--slow 1.0] [--delay 0.5]
                                               [--concurrency 1] [--workers 1,2,3]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from crawlers.distributed import active_jobs, connect  # noqa: E402


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _log(control: str, reset: bool = False) -> list[list[Any]]:
    with urllib.request.urlopen(control + ("/reset" if reset else "/log"), timeout=10) as resp:
        return list(json.loads(resp.read()))


def _pages(log: list[list[Any]]) -> int:
    """Pages fetched (robots.txt, read once per host, is not a page)."""
    return sum(1 for _host, path, *_rest in log if path != "/robots.txt")


def _span(log: list[list[Any]]) -> float:
    """Seconds from the first request the sites saw to the last answer they gave."""
    arrived = [row[3] for row in log]
    answered = [row[4] if row[4] is not None else row[3] for row in log]
    return max(answered) - min(arrived) if log else float("nan")


def _gaps(log: list[list[Any]]) -> list[float]:
    """Times between consecutive requests to one host, as the host saw them arrive."""
    by_host: dict[str, list[float]] = {}
    for host, _path, _status, arrived, *_rest in log:
        by_host.setdefault(host, []).append(arrived)
    return [b - a for times in by_host.values() for a, b in zip(sorted(times), sorted(times)[1:], strict=False)]


class Sites:
    """The timed sites (``tests/test_distributed_sites.py``) in a subprocess."""

    def __init__(self, n: int, articles: int, answer_seconds: float) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.test_distributed_sites", str(n), str(articles), str(answer_seconds)],
            cwd=REPO, stdout=subprocess.PIPE, text=True,
        )
        assert self.proc.stdout is not None
        info = json.loads(self.proc.stdout.readline())
        self.urls: list[str] = info["sites"]
        self.control: str = info["control"]

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


def _sources(root: Path, sites: list[str], concurrency: int) -> Path:
    path = root / f"sources-{abs(hash(tuple(sites)))}-c{concurrency}"
    if not path.exists():
        path.mkdir(parents=True)
        for i, base in enumerate(sites):
            (path / f"site-{i}.yaml").write_text(
                f"name: site-{i}\nstart_urls: ['{base}/news/']\nconcurrency: {concurrency}\n", encoding="utf-8"
            )
    return path


def local_run(env: dict[str, str], sources: Path, data: Path, sites: Sites) -> tuple[list[list[Any]], float]:
    """One local ``techscout crawl`` of every source (no Redis)."""
    _log(sites.control, reset=True)
    t0 = time.monotonic()
    subprocess.run(
        [sys.executable, "-m", "cli", "crawl", "--quiet", "--sources", str(sources), "--data", str(data)],
        cwd=REPO, env={**env, "TECHSCOUT_REDIS_URL": ""}, check=False, capture_output=True,
    )
    return _log(sites.control), time.monotonic() - t0


def workers_run(
    n: int, env: dict[str, str], sources: Path, data: Path, sites: Sites, redis_url: str, port: int
) -> tuple[list[list[Any]], float]:
    """``n`` ``techscout worker`` processes, started and waiting before the crawls are enqueued."""
    subprocess.run(["redis-cli", "-p", str(port), "flushall"], check=False, capture_output=True)
    denv = {**env, "TECHSCOUT_REDIS_URL": redis_url}
    data.mkdir(parents=True, exist_ok=True)
    logs = [data / f"worker-{i}.log" for i in range(n)]
    procs = []
    for log in logs:
        with log.open("w") as fh:
            procs.append(subprocess.Popen(
                [sys.executable, "-m", "cli", "worker", "--data", str(data)],
                cwd=REPO, env={**denv, "TECHSCOUT_LOG_LEVEL": "INFO"}, stdout=subprocess.DEVNULL, stderr=fh,
            ))
    try:
        while not all("waiting for crawls" in log.read_text(errors="replace") for log in logs):
            if any(p.poll() is not None for p in procs):
                raise RuntimeError(f"a worker exited: {logs[0].read_text(errors='replace')[-2000:]}")
            time.sleep(0.2)
        _log(sites.control, reset=True)
        t0 = time.monotonic()
        subprocess.run(
            [sys.executable, "-m", "cli", "crawl", "--enqueue", "--quiet", "--sources", str(sources),
             "--data", str(data)],
            cwd=REPO, env=denv, check=True, capture_output=True,
        )
        server = connect(redis_url)
        while active_jobs(server):
            time.sleep(0.1)
        wall = time.monotonic() - t0
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            p.wait(timeout=120)
    return _log(sites.control), wall


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sites", type=int, default=4)
    ap.add_argument("--articles", type=int, default=24, help="article pages per site")
    ap.add_argument("--slow", type=float, default=1.0, help="seconds a site takes to answer (concurrency-bound)")
    ap.add_argument("--fast", type=float, default=0.02, help="seconds a site takes to answer (politeness-bound)")
    ap.add_argument("--delay", type=float, default=0.5, help="politeness delay per host (politeness-bound)")
    ap.add_argument("--concurrency", type=int, default=1, help="requests at a time per site per worker")
    ap.add_argument("--workers", default="1,2,3", help="worker counts, comma-separated")
    ap.add_argument("--dump", help="write every run's request log (JSON) to this file")
    args = ap.parse_args()
    exe = shutil.which("redis-server")
    if exe is None:
        print("redis-server is missing (apt-get install redis-server)", file=sys.stderr)
        return 1
    counts = [int(x) for x in args.workers.split(",")]
    port = _free_port()
    redis_proc = subprocess.Popen([exe, "--port", str(port), "--save", "", "--appendonly", "no"],
                                  stdout=subprocess.DEVNULL)
    redis_url = f"redis://127.0.0.1:{port}/0"
    root = Path(tempfile.mkdtemp(prefix="techscout-dist-"))
    base_env = {**os.environ, "TECHSCOUT_LOG_LEVEL": "ERROR", "TECHSCOUT_TIMEOUT": "60",
                "TECHSCOUT_ALLOW_PRIVATE_URLS": "1"}  # the benchmark's sites are on loopback addresses
    base_env.pop("TECHSCOUT_CONFIG", None)
    rows: list[dict[str, Any]] = []
    try:
        time.sleep(0.5)
        # 1. concurrency-bound: slow answers, no delay; the anchor has the workers' total concurrency
        sites = Sites(args.sites, args.articles, args.slow)
        env = {**base_env, "TECHSCOUT_DELAY": "0"}
        try:
            for n in counts:
                total = n * args.concurrency
                log, wall = local_run(env, _sources(root, sites.urls, total), root / f"a-local-{n}", sites)
                rows.append({"scenario": "concurrency", "run": f"local crawl, {total} at a time", "n": n,
                             "conc": total, "anchor": True, "log": log, "wall": wall, "delay": 0.0})
                log, wall = workers_run(n, env, _sources(root, sites.urls, args.concurrency), root / f"a-w{n}",
                                        sites, redis_url, port)
                rows.append({"scenario": "concurrency", "run": f"{n} worker(s) × {args.concurrency}", "n": n,
                             "conc": total, "anchor": False, "log": log, "wall": wall, "delay": 0.0})
        finally:
            sites.stop()
        # 2. politeness-bound: fast answers, the same delay per host for both
        sites = Sites(args.sites, args.articles, args.fast)
        env = {**base_env, "TECHSCOUT_DELAY": str(args.delay)}
        n = max(counts)
        total = n * args.concurrency
        try:
            log, wall = local_run(env, _sources(root, sites.urls, total), root / "b-local", sites)
            rows.append({"scenario": "politeness", "run": f"local crawl, {total} at a time", "n": n,
                         "conc": total, "anchor": True, "log": log, "wall": wall, "delay": args.delay})
            log, wall = workers_run(n, env, _sources(root, sites.urls, args.concurrency), root / "b-workers",
                                    sites, redis_url, port)
            rows.append({"scenario": "politeness", "run": f"{n} worker(s) × {args.concurrency}", "n": n,
                         "conc": total, "anchor": False, "log": log, "wall": wall, "delay": args.delay})
        finally:
            sites.stop()
    finally:
        redis_proc.terminate()
        redis_proc.wait(timeout=10)
        shutil.rmtree(root, ignore_errors=True)
    if args.dump:
        Path(args.dump).write_text(json.dumps({f"{r['scenario']}: {r['run']}": r["log"] for r in rows}))
    load = os.getloadavg()
    print(f"{args.sites} sites × {args.articles} articles (+ a list page each); machine: {os.cpu_count()} cores, "
          f"load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")
    print(f"concurrency-bound: answers take {args.slow}s, no politeness delay; each worker count against a local "
          "crawl with the same total requests at a time per site (the anchor)")
    print(f"politeness-bound: answers take {args.fast}s, {args.delay}s delay per host for both; ceiling = "
          f"{args.sites}/{args.delay} = {args.sites / args.delay:.2f} pages/s")
    print("seconds = first request to last answer, as the sites saw them; wall = start (or enqueue) to crawl end; "
          "gaps = between requests to one host")
    print(f"{'scenario':<12}{'run':<24}{'pages':>6}{'seconds':>9}{'wall s':>8}{'pages/s':>9}{'× anchor':>10}"
          f"{'min gap s':>11}{'gaps < delay':>14}")
    anchors: dict[tuple[str, int], float] = {}
    for r in rows:
        rate = _pages(r["log"]) / _span(r["log"])
        if r["anchor"]:
            anchors[(r["scenario"], r["n"])] = rate
        gaps = _gaps(r["log"])
        short = sum(1 for g in gaps if g < r["delay"]) if r["delay"] else 0
        print(f"{r['scenario']:<12}{r['run']:<24}{_pages(r['log']):>6}{_span(r['log']):>9.1f}{r['wall']:>8.1f}"
              f"{rate:>9.2f}{rate / anchors[(r['scenario'], r['n'])]:>10.2f}"
              f"{min(gaps, default=float('nan')):>11.3f}{short:>14}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
