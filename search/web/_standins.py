"""A stand-in for the crawl launcher being written beside this (see ``search/web/services.py``).

Same signatures and behaviour as its contract; deleted when ``crawlers.launch`` lands on main. Nothing but ``services.py`` imports this module.
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import threading
import uuid
from pathlib import Path

from core import clock
from core.errors import CrawlBusy
from core.settings import Settings

REPO_ROOT = Path(__file__).resolve().parent.parent.parent
_procs: dict[tuple[str, str], subprocess.Popen[bytes]] = {}
_lock = threading.Lock()


def is_running(settings: Settings, source: str) -> bool:
    with _lock:
        proc = _procs.get((str(settings.data_dir), source))
        if proc is not None and proc.poll() is None:
            return True
    lock = settings.paths.source_lock(source)
    if not lock.exists():
        return False
    with open(lock, "a") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return True
        fcntl.flock(fh, fcntl.LOCK_UN)
    return False


def crawl_now(settings: Settings, source: str) -> str:
    if is_running(settings, source):
        raise CrawlBusy(f"数据源 {source} 正在抓取")
    run_id = f"{source}-{clock.now().strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:6]}"
    log = settings.paths.crawl_log(source)
    log.parent.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "cli", "crawl", source, "--data", str(settings.data_dir), "--quiet",
           "--run-id", run_id]
    alerts = [sys.executable, "-m", "cli", "alerts", "run", "--data", str(settings.data_dir)]
    script = f"{subprocess.list2cmdline(cmd)}; {subprocess.list2cmdline(alerts)}"
    with open(log, "ab") as out:
        proc = subprocess.Popen(["/bin/sh", "-c", script], cwd=str(REPO_ROOT), env=os.environ | settings.as_env(),
                                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)
    with _lock:
        _procs[(str(settings.data_dir), source)] = proc
    return run_id
