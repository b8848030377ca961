"""Read-only tables built once per machine and memory-mapped by every process.

A table is a few numpy arrays made from files (a word list, a module's code): built the first time a process
needs it into ``.npy`` files in :func:`cache_dir`, then mapped — so concurrent crawls share its pages instead of
each parsing the files again into memory of its own. The dedup stage's tables (:mod:`pipelines.dedup.words`,
:mod:`pipelines.dedup.text`) and the segmenter's dictionary (:mod:`pipelines.segment`) are kept this way;
``techscout dedup --warm`` (run by ``scripts/install.sh``) builds them at install.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

log = logging.getLogger(__name__)

_DEDUP_PACKAGE = Path(__file__).resolve().parent / "dedup"
Arrays = dict[str, npt.NDArray[Any]]


def cache_dir() -> Path | None:
    """Where the read-only tables are kept: beside numba's cache of the kernels — ``$NUMBA_CACHE_DIR`` when
    set, else ``pipelines/dedup/__pycache__`` — or, where that cannot be written (a read-only install), in
    ``$XDG_CACHE_HOME/techscout`` (``~/.cache/techscout``). None when no place can be written."""
    numba_dir = os.environ.get("NUMBA_CACHE_DIR")
    candidates = [Path(numba_dir) / "techscout"] if numba_dir else [_DEDUP_PACKAGE / "__pycache__"]
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    candidates.append(Path(xdg) / "techscout")
    for path in candidates:
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError:
            continue
        if os.access(path, os.W_OK | os.X_OK):
            return path
    return None


def digest(inputs: Iterable[bytes | str | Path]) -> str:
    """A digest of what a table is made from: the contents of files, and strings (versions)."""
    h = hashlib.sha256()
    for item in inputs:
        if isinstance(item, Path):
            h.update(item.read_bytes())
        else:
            h.update(item.encode() if isinstance(item, str) else item)
        h.update(b"\0")
    return h.hexdigest()[:16]


def mapped_table(name: str, inputs: Iterable[bytes | str | Path], build: Callable[[], Arrays]) -> Arrays:
    """The arrays ``build()`` makes, kept in ``<cache>/<name>-<key>/<array>.npy`` and memory-mapped.

    ``key`` is a digest of ``inputs`` (the files the table is made from — including the modules that make it
    and the kernels whose hashes it holds — and version strings), so that a change of any of them builds the
    table again; older versions are removed then. The files are written into a temporary folder renamed into
    place, so a process sees a table whole or not at all, and two processes building at once are both right.
    The maps are private (copy-on-write): pages are shared with every other process mapping them as long as
    no one writes, and nothing does. Where no cache folder can be written, the arrays are built in memory.
    """
    root = cache_dir()
    if root is None:
        log.warning("no writable cache folder: the %s table is built in this process", name)
        return build()
    folder = root / f"{name}-{digest(inputs)}"
    if not folder.is_dir():
        t0 = time.perf_counter()

        def write(tmp: Path) -> None:
            for key, array in build().items():
                np.save(tmp / f"{key}.npy", np.ascontiguousarray(array), allow_pickle=False)

        publish(folder, write)
        log.info("built the %s table into %s (%.2fs)", name, folder, time.perf_counter() - t0)
    return {p.stem: np.asarray(np.load(p, mmap_mode="c", allow_pickle=False)) for p in folder.glob("*.npy")}


def publish(folder: Path, write: Callable[[Path], None]) -> Path:
    """Make ``folder`` (``<root>/<name>-<key>``) with ``write(tmp)`` into a temporary folder beside it renamed into
    place, so that a process sees it whole or not at all, and two processes making it at once are both right;
    then remove the other versions (``<name>-*``) of the same root. Nothing is done when ``folder`` exists."""
    if folder.is_dir():
        return folder
    root, name = folder.parent, folder.name.rsplit("-", 1)[0]
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=root))
    try:
        write(tmp)
        try:
            tmp.rename(folder)
        except OSError:  # another process put it there first: its copy is the same
            if not folder.is_dir():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    for old in root.glob(f"{name}-*"):
        if old != folder and old.is_dir():
            shutil.rmtree(old, ignore_errors=True)
    return folder
