"""Pages per second with 1, 2 and 3 crawler workers sharing one frontier through Redis.

Several local sites on distinct loopback addresses (127.0.0.2, 127.0.0.3, ...), each answering after a fixed
delay per request, are crawled (a) by one local ``techscout crawl`` process — the anchor — and (b) by N
``techscout worker`` processes. Each source allows ``concurrency`` requests at a time per worker, so a slow site
is fetched faster by more workers, while the shared per-host gate keeps requests to one host at least ``delay``
apart (checked from the server's arrival times). Prints one table.

    .venv/bin/python benchmarks/distributed.py [--sites 6] [--articles 12] [--server-delay 2.5] [--delay 0.5]
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


def _span(log: list[list]) -> float:
    """Seconds from the first request the sites saw to the last (process start-up is not crawling)."""
    times = [t for *_rest, t in log]
    return max(times) - min(times) if times else float("nan")


def _min_gap(log: list[list]) -> float:
    """Smallest time between two requests to one host."""
    by_host: dict[str, list[float]] = {}
    for host, _path, _status, t in log:
        by_host.setdefault(host, []).append(t)
    gaps = [
        b - a for times in by_host.values() for a, b in zip(sorted(times), sorted(times)[1:], strict=False)
    ]
    return min(gaps) if gaps else float("nan")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sites", type=int, default=6)
    ap.add_argument("--articles", type=int, default=12, help="article pages per site")
    ap.add_argument("--server-delay", type=float, default=2.5, help="seconds each site takes to answer")
    ap.add_argument("--delay", type=float, default=0.5, help="politeness delay per host (the shared gate)")
    ap.add_argument("--concurrency", type=int, default=1, help="requests at a time per site per worker")
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
    sources = root / "sources"
    sources.mkdir()
    for i, base in enumerate(info["sites"]):
        (sources / f"site-{i}.yaml").write_text(
            f"name: site-{i}\nstart_urls: ['{base}/news/']\nconcurrency: {args.concurrency}\n",
            encoding="utf-8",
        )
    env = {
        **os.environ,
        "TECHSCOUT_DELAY": str(args.delay),
        "TECHSCOUT_LOG_LEVEL": "ERROR",
        "TECHSCOUT_TIMEOUT": "30",
        "TECHSCOUT_SOURCES": str(sources),
    }
    env.pop("TECHSCOUT_CONFIG", None)
    rows = []
    try:
        # anchor: one local crawl process, no Redis
        _log(info["control"], reset=True)
        local_env = {**env, "TECHSCOUT_REDIS_URL": ""}
        t0 = time.monotonic()
        subprocess.run(
            [sys.executable, "-m", "cli", "crawl", "--quiet", "--data", str(root / "local")],
            cwd=REPO,
            env=local_env,
            check=False,
            capture_output=True,
        )
        log = _log(info["control"])
        rows.append(("local crawl (anchor)", len(log), _span(log), time.monotonic() - t0, _min_gap(log)))
        for n in (1, 2, 3):
            subprocess.run(["redis-cli", "-p", str(port), "flushall"], check=False, capture_output=True)
            _log(info["control"], reset=True)
            denv = {**env, "TECHSCOUT_REDIS_URL": redis_url}
            data = root / f"workers-{n}"
            subprocess.run(
                [sys.executable, "-m", "cli", "crawl", "--enqueue", "--quiet", "--data", str(data)],
                cwd=REPO,
                env=denv,
                check=True,
                capture_output=True,
            )
            # workers first, ready and waiting; then the crawl is enqueued (start-up is not crawling)
            logs = [root / f"worker-{n}-{i}.log" for i in range(n)]
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
            while not all("waiting for crawls" in log.read_text(errors="replace") for log in logs):
                time.sleep(0.2)
            t0 = time.monotonic()
            subprocess.run(
                [sys.executable, "-m", "cli", "crawl", "--enqueue", "--quiet", "--data", str(data)],
                cwd=REPO,
                env=denv,
                check=True,
                capture_output=True,
            )
            server = d.connect(redis_url)
            time.sleep(1.0)
            while d.active_jobs(server):
                time.sleep(0.2)
            for p in procs:
                p.send_signal(signal.SIGTERM)
            for p in procs:
                p.wait(timeout=60)
            log = _log(info["control"])
            rows.append((f"{n} worker(s)", len(log), _span(log), time.monotonic() - t0, _min_gap(log)))
    finally:
        sites_proc.terminate()
        redis_proc.terminate()
        shutil.rmtree(root, ignore_errors=True)
    anchor = rows[0][1] / rows[0][2]
    print(
        f"{args.sites} sites × {args.articles} articles, server answers in {args.server_delay}s, "
        f"gate delay {args.delay}s per host, concurrency {args.concurrency} per site per worker"
    )
    print("seconds = first to last request seen by the sites; wall = with process start-up")
    print(
        f"{'run':<22}{'requests':>10}{'seconds':>10}{'wall s':>8}{'pages/s':>10}{'× anchor':>10}{'min gap s':>11}"
    )
    for name, reqs, secs, wall, gap in rows:
        rate = reqs / secs
        print(f"{name:<22}{reqs:>10}{secs:>10.1f}{wall:>8.1f}{rate:>10.2f}{rate / anchor:>10.2f}{gap:>11.3f}")
    one = rows[1][1] / rows[1][2]
    three = rows[3][1] / rows[3][2]
    print(f"3 workers / 1 worker: {three / one:.2f}×")
    return 0


if __name__ == "__main__":
    sys.exit(main())
