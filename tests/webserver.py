"""``techscout serve`` in a subprocess on a free port, for tests that drive the live app over HTTP."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from tests.receivers import free_port

REPO = Path(__file__).resolve().parent.parent


class LiveServer:
    """The real ``techscout serve`` over ``data``; ``base`` is its URL. Stop it with :meth:`stop`."""

    def __init__(self, data: Path, sources: Path | None = None, env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        cmd = [sys.executable, "-m", "cli", "serve", "--host", "127.0.0.1", "--port", str(self.port), "--data", str(data)]
        if sources is not None:
            cmd += ["--sources", str(sources)]
        full_env = {**os.environ, "TECHSCOUT_LOG_LEVEL": "WARNING", **(env or {})}
        full_env.pop("TECHSCOUT_CONFIG", None)
        self.log = open(data / "serve-test.log", "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(cmd, cwd=REPO, env=full_env, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 60
        while True:
            try:
                urllib.request.urlopen(self.base + "/login", timeout=1)
                return
            except OSError:
                if self.proc.poll() is not None or time.time() > deadline:
                    self.stop()
                    raise RuntimeError("techscout serve did not start:\n" + (data / "serve-test.log").read_text()) from None
                time.sleep(0.2)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.log.close()
