"""What the dedup stage builds once per machine and every process then reuses.

* **Compiled kernels** (:mod:`pipelines.dedup.kernels`): numba compiles them into its cache (``cache=True``) —
  by default this package's ``__pycache__``, or ``$NUMBA_CACHE_DIR`` — where they stay until ``kernels.py``
  changes. Compiling them all takes tens of seconds, loading them from the cache about a second.
* **The kernels compiled ahead of time** (:func:`build_library`): one extension module made from the kernels
  by numba's ``pycc`` beside the tables; a process that finds it (:func:`load_library`) calls the kernels there
  and never imports numba and LLVM (about 170 MB of a crawl process's memory: LLVM's code and the JIT-loaded
  kernels). Without it the kernels run through numba's cache as before.
* **Read-only tables** (the dictionary of story words, the lower-case table of code points): built once into
  ``.npy`` files in :func:`cache_dir` and memory-mapped by every process, so that concurrent crawls share
  their pages and none of them parses jieba's word list again.

:func:`pipelines.dedup.warm.warm` makes both: run it once after installing (``techscout dedup --warm``;
``scripts/install.sh`` does), and every crawl process calls it at start, where it only loads them.
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

_PACKAGE = Path(__file__).resolve().parent
Arrays = dict[str, npt.NDArray[Any]]


def cache_dir() -> Path | None:
    """Where the read-only tables are kept: beside numba's cache of the kernels — ``$NUMBA_CACHE_DIR`` when
    set, else this package's ``__pycache__`` — or, where that cannot be written (a read-only install), in
    ``$XDG_CACHE_HOME/techscout`` (``~/.cache/techscout``). None when no place can be written."""
    numba_dir = os.environ.get("NUMBA_CACHE_DIR")
    candidates = [Path(numba_dir) / "techscout"] if numba_dir else [_PACKAGE / "__pycache__"]
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


def _key(inputs: Iterable[bytes | str | Path]) -> str:
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
    folder = root / f"{name}-{_key(inputs)}"
    if not folder.is_dir():
        t0 = time.perf_counter()
        arrays = build()
        tmp = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=root))
        try:
            for key, array in arrays.items():
                np.save(tmp / f"{key}.npy", np.ascontiguousarray(array), allow_pickle=False)
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
        log.info("built the %s table into %s (%.2fs)", name, folder, time.perf_counter() - t0)
    return {p.stem: np.asarray(np.load(p, mmap_mode="c", allow_pickle=False)) for p in folder.glob("*.npy")}


def compiled_kernels() -> dict[str, Any]:
    """Every kernel of the stage as a numba dispatcher, by name (numba imported)."""
    import pipelines.dedup.kernels as kernels

    return dict(kernels.jit())


LIBRARY_NAME = "dedup_kernels"


def _library_folder(root: Path) -> Path:
    """The folder of the ahead-of-time library made from this ``kernels.py`` by these versions."""
    import importlib.metadata
    import platform
    import sys

    import pipelines.dedup.kernels as kernels

    versions = [sys.version, platform.machine(), np.__version__]
    for dist in ("numba", "llvmlite"):
        try:
            versions.append(importlib.metadata.version(dist))
        except importlib.metadata.PackageNotFoundError:
            versions.append(f"no-{dist}")
    return root / f"kernels-{_key([Path(kernels.SOURCE), Path(__file__), *versions])}"


def load_library() -> Any:
    """The ahead-of-time compiled library of the kernels made by :func:`build_library` for this
    ``kernels.py``, installed as :data:`kernels.LIBRARY <pipelines.dedup.kernels.LIBRARY>`; None when there is
    none (the kernels then run through numba and its cache)."""
    import importlib.machinery
    import importlib.util

    import pipelines.dedup.kernels as kernels

    if kernels.LIBRARY is not None:
        return kernels.LIBRARY
    root = cache_dir()
    if root is None:
        return None
    folder = _library_folder(root)
    found = sorted(folder.glob(f"{LIBRARY_NAME}*.so")) if folder.is_dir() else []
    if not found:
        return None
    loader = importlib.machinery.ExtensionFileLoader(LIBRARY_NAME, str(found[0]))
    spec = importlib.util.spec_from_file_location(LIBRARY_NAME, found[0], loader=loader)
    if spec is None:
        return None
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    kernels.LIBRARY = module
    return module


def build_library(signatures: dict[str, list[Any]]) -> Path | None:
    """Compile the kernels ahead of time (numba's ``pycc``) into one extension module in the cache folder, each
    kernel exported with the one signature the stage calls it with (``signatures``: the dispatchers' after a
    warm-up); a kernel called with several signatures is left to numba. Returns the library's folder (None
    where no cache folder can be written). Written into a temporary folder renamed into place, like the tables."""
    from numba.pycc import CC

    import pipelines.dedup.kernels as kernels

    root = cache_dir()
    if root is None:
        log.warning("no writable cache folder: the dedup kernels are not compiled ahead of time")
        return None
    folder = _library_folder(root)
    if folder.is_dir():
        return folder
    t0 = time.perf_counter()
    tmp = Path(tempfile.mkdtemp(prefix=".kernels-", dir=root))
    try:
        cc = CC(LIBRARY_NAME)
        cc.output_dir = str(tmp)
        cc.verbose = False
        for name, sigs in sorted(signatures.items()):
            marked = getattr(kernels, name)
            if len(sigs) == 1:
                cc.export(name, sigs[0])(getattr(marked, "py_func", marked))
        cc.compile()
        try:
            tmp.rename(folder)
        except OSError:  # another process put it there first: its copy is the same
            if not folder.is_dir():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    for old in root.glob("kernels-*"):
        if old != folder and old.is_dir():
            shutil.rmtree(old, ignore_errors=True)
    log.info("compiled the dedup kernels ahead of time into %s (%.1fs)", folder, time.perf_counter() - t0)
    return folder
