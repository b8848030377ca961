"""Pages per second with 1, 2 and 3 crawler workers sharing one frontier through Redis.

Several local sites on distinct loopback addresses (127.0.0.2, 127.0.0.3, ...), each answering after a fixed
delay per request, are crawled (a) by one local ``techscout crawl`` process — the anchor — and (b) by N
``techscout worker`` processes, started and ready before the crawls are enqueued. Every run crawls the same pages
of the same sites with the same delays. Each source allows ``concurrency`` requests at a time per worker, so a
slow site is fetched faster by more workers, while the shared per-host gate keeps requests to one host at least
``delay`` apart. Times are the sites' own: a run lasts from the first request a site saw to the last answer a site
gave, and the spacing is checked on the arrival times. Prints one table.

    .venv/bin/python benchmarks/distributed.py [--sites 6] [--articles 30] [--server-delay 2.5] [--delay 0.5]
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

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from crawlers import distributed as d  # noqa: E402


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _log(control: str, reset: bool = False) -> list[list]:
    with urllib.request.urlopen(control + ("/reset" if reset else "/log"), timeout=10) as resp:
        return list(json.loads(resp.read()))


def _pages(log: list[list]) -> int:
    """Pages fetched (robots.txt, which every worker reads once per host, is not a page)."""
    return sum(1 for _host, path, *_rest in log if path != "/robots.txt")


def _span(log: list[list]) -> float:
    """Seconds from the first request the sites saw to the last answer they gave (process start-up is not
    crawling, the last page's answer is)."""
    arrived = [row[3] for row in log]
    answered = [row[4] if row[4] is not None else row[3] for row in log]
    return max(answered) - min(arrived) if log else float("nan")


def _gaps(log: list[list]) -> list[float]:
    """Times between consecutive requests to one host, as the host saw them arrive."""
    by_host: dict[str, list[float]] = {}
    for host, _path, _status, arrived, *_rest in log:
        by_host.setdefault(host, []).append(arrived)
    return [
        b - a for times in by_host.values() for a, b in zip(sorted(times), sorted(times)[1:], strict=False)
    ]


def _write_sources(sources: Path, sites: list[str], concurrency: int) -> None:
    sources.mkdir()
    for i, base in enumerate(sites):
        (sources / f"site-{i}.yaml").write_text(
            f"name: site-{i}\nstart_urls: ['{base}/news/']\nconcurrency: {concurrency}\n", encoding="utf-8"
        )


def _local_run(env: dict[str, str], data: Path, control: str) -> tuple[list[list], float]:
    """One local ``techscout crawl`` of every source (no Redis): the anchor."""
    _log(control, reset=True)
    t0 = time.monotonic()
    subprocess.run(
        [sys.executable, "-m", "cli", "crawl", "--quiet", "--data", str(data)],
        cwd=REPO,
        env={**env, "TECHSCOUT_REDIS_URL": ""},
        check=False,
        capture_output=True,
    )
    return _log(control), time.monotonic() - t0


def _workers_run(
    n: int, env: dict[str, str], data: Path, control: str, redis_url: str, port: int
) -> tuple[list[list], float]:
    """N ``techscout worker`` processes, started and waiting before the crawls are enqueued."""
    subprocess.run(["redis-cli", "-p", str(port), "flushall"], check=False, capture_output=True)
    denv = {**env, "TECHSCOUT_REDIS_URL": redis_url}
    logs = [data.parent / f"{data.name}-worker-{i}.log" for i in range(n)]
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "cli", "worker", "--data", str(data)],
            cwd=REPO,
            env={**denv, "TECHSCOUT_LOG_LEVEL": "INFO"},
            stdout=subprocess.DEVNULL,
            stderr=log.open("w"),
        )
        for log in logs
    ]
    try:
        while not all("waiting for crawls" in log.read_text(errors="replace") for log in logs):
            time.sleep(0.2)
        _log(control, reset=True)
        t0 = time.monotonic()
        subprocess.run(
            [sys.executable, "-m", "cli", "crawl", "--enqueue", "--quiet", "--data", str(data)],
            cwd=REPO,
            env=denv,
            check=True,
            capture_output=True,
        )
        server = d.connect(redis_url)
        while d.active_jobs(server):
            time.sleep(0.1)
        wall = time.monotonic() - t0
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            p.wait(timeout=60)
    return _log(control), wall


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sites", type=int, default=6)
    ap.add_argument("--articles", type=int, default=30, help="article pages per site")
    ap.add_argument("--server-delay", type=float, default=2.5, help="seconds each site takes to answer")
    ap.add_argument("--delay", type=float, default=0.5, help="politeness delay per host (the shared gate)")
    ap.add_argument("--concurrency", type=int, default=1, help="requests at a time per site per worker")
    ap.add_argument("--workers", default="1,2,3", help="worker counts to run, comma-separated")
    ap.add_argument("--no-anchor", action="store_true", help="skip the local crawl")
    ap.add_argument("--dump", help="write every run's request log (JSON) to this file")
    args = ap.parse_args()
    exe = shutil.which("redis-server")
    if exe is None:
        print("redis-server is missing (apt-get install redis-server)", file=sys.stderr)
        return 1
    port = _free_port()
    redis_proc = subprocess.Popen(
        [exe, "--port", str(port), "--save", "", "--appendonly", "no"], stdout=subprocess.DEVNULL
    )
    sites_proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.test_distributed_sites",
            str(args.sites),
            str(args.articles),
            str(args.server_delay),
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert sites_proc.stdout is not None
    info = json.loads(sites_proc.stdout.readline())
    redis_url = f"redis://127.0.0.1:{port}/0"
    time.sleep(0.5)
    root = Path(tempfile.mkdtemp(prefix="techscout-dist-"))
    _write_sources(root / "sources", info["sites"], args.concurrency)
    env = {
        **os.environ,
        "TECHSCOUT_DELAY": str(args.delay),
        "TECHSCOUT_ALLOW_PRIVATE_URLS": "1",  # the benchmark's sites are on loopback addresses
        "TECHSCOUT_LOG_LEVEL": "ERROR",
        "TECHSCOUT_TIMEOUT": "30",
        "TECHSCOUT_SOURCES": str(root / "sources"),
    }
    env.pop("TECHSCOUT_CONFIG", None)
    runs: list[tuple[str, list[list], float]] = []
    try:
        if not args.no_anchor:
            runs.append(("local crawl (anchor)", *_local_run(env, root / "local", info["control"])))
        for n in (int(x) for x in args.workers.split(",")):
            log, wall = _workers_run(n, env, root / f"workers-{n}", info["control"], redis_url, port)
            runs.append((f"{n} worker(s)", log, wall))
    finally:
        sites_proc.terminate()
        redis_proc.terminate()
        shutil.rmtree(root, ignore_errors=True)
    if args.dump:
        Path(args.dump).write_text(json.dumps({name: log for name, log, _wall in runs}), encoding="utf-8")
    print(
        f"{args.sites} sites × {args.articles} articles, server answers in {args.server_delay}s, "
        f"gate delay {args.delay}s per host, concurrency {args.concurrency} per site per worker"
    )
    print("seconds = first request to last answer, as the sites saw them; wall = enqueue to crawl end")
    print("pages = requests other than robots.txt; gaps = between requests to one host, as the host saw them")
    header = f"{'run':<22}{'requests':>9}{'pages':>7}{'seconds':>9}{'wall s':>8}{'pages/s':>9}"
    print(header + f"{'× anchor':>10}{'min gap s':>11}{'gaps < delay':>14}")
    rates = {name: _pages(log) / _span(log) for name, log, _wall in runs}
    anchor = rates.get("local crawl (anchor)", float("nan"))
    for name, log, wall in runs:
        gaps = _gaps(log)
        short = sum(1 for g in gaps if g < args.delay)
        print(
            f"{name:<22}{len(log):>9}{_pages(log):>7}{_span(log):>9.1f}{wall:>8.1f}{rates[name]:>9.2f}"
            f"{rates[name] / anchor:>10.2f}{min(gaps, default=float('nan')):>11.3f}{short:>14}"
        )
    if "1 worker(s)" in rates and "3 worker(s)" in rates:
        print(f"3 workers / 1 worker: {rates['3 worker(s)'] / rates['1 worker(s)']:.2f}×")
    return 0


if __name__ == "__main__":
    sys.exit(main())
