"""The data directory's layout: every file and folder name the product keeps there, spelled once.

    <data>/techscout.sqlite      the embedded store (documents, libraries, subscriptions, runs, users)
    <data>/dedup.sqlite          the duplicate index (signatures, clusters, stories)
    <data>/scheduler.sqlite      the scheduler's job store (planned runs survive restarts)
    <data>/scheduler.lock        held by the one ``techscout run`` using the data directory
    <data>/secret_key            secret of session cookies and CSRF tokens (mode 0600)
    <data>/jobs/<source>/        a crawl's resumable state (Scrapy JOBDIR)
    <data>/jobs/<source>.lock    held while a crawl of that source runs
    <data>/logs/<source>.log     the log of the source's crawls
    <data>/alerts.lock           held while alerts are matched and delivered
    <data>/sources.json          which sources fill this data directory (remembered by ``run`` and ``crawl``)
    <data>/classify_model.json.gz  a retrained classifier model (``techscout classify --train``)
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

STORE_FILE = "techscout.sqlite"
DEDUP_FILE = "dedup.sqlite"
SCHEDULER_FILE = "scheduler.sqlite"
SCHEDULER_LOCK = "scheduler.lock"
SECRET_FILE = "secret_key"
ALERTS_LOCK = "alerts.lock"
SOURCES_FILE = "sources.json"
MODEL_FILE = "classify_model.json.gz"

#: mode of files holding secrets or personal data (password hashes, notification URLs)
PRIVATE_MODE = 0o600


@dataclass(frozen=True)
class DataPaths:
    """The paths inside one data directory."""

    root: Path

    @property
    def store(self) -> Path:
        return self.root / STORE_FILE

    @property
    def dedup(self) -> Path:
        return self.root / DEDUP_FILE

    @property
    def scheduler(self) -> Path:
        return self.root / SCHEDULER_FILE

    @property
    def scheduler_lock(self) -> Path:
        return self.root / SCHEDULER_LOCK

    @property
    def secret(self) -> Path:
        return self.root / SECRET_FILE

    @property
    def alerts_lock(self) -> Path:
        return self.root / ALERTS_LOCK

    @property
    def sources_file(self) -> Path:
        return self.root / SOURCES_FILE

    @property
    def model(self) -> Path:
        return self.root / MODEL_FILE

    @property
    def jobs(self) -> Path:
        return self.root / "jobs"

    def jobdir(self, source: str) -> Path:
        return self.jobs / source

    def source_lock(self, source: str) -> Path:
        return self.jobs / f"{source}.lock"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    def crawl_log(self, source: str) -> Path:
        return self.logs / f"{source}.log"

    def ensure(self) -> Path:
        """Create the data directory (owner-only access) and return it."""
        self.root.mkdir(parents=True, exist_ok=True)
        return self.root


def private_file(path: Path) -> None:
    """Make ``path`` (and its SQLite side files when present) readable by the owner only."""
    for p in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        try:
            os.chmod(p, PRIVATE_MODE)
        except FileNotFoundError:
            pass
