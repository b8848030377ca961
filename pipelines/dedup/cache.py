"""What the dedup stage builds once per machine and every process then reuses.

* **Compiled kernels** (:mod:`pipelines.dedup.kernels`): numba compiles them into its cache (``cache=True``) —
  by default this package's ``__pycache__``, or ``$NUMBA_CACHE_DIR`` — where they stay until ``kernels.py``
  changes. Compiling them all takes tens of seconds, loading them from the cache about a second.
* **The kernels compiled ahead of time** (:func:`build_library`): one extension module made from the kernels
  by numba's ``pycc`` beside the tables; a process that finds it (:func:`load_library`) calls the kernels there
  and never imports numba and LLVM (about 170 MB of a crawl process's memory: LLVM's code and the JIT-loaded
  kernels). Without it the kernels run through numba's cache as before.
* **Read-only tables** (the dictionary of story words, the lower-case table of code points): built once into
  ``.npy`` files (:func:`pipelines.mapped.mapped_table`) and memory-mapped by every process, so that
  concurrent crawls share their pages and none of them parses jieba's word list again.

:func:`pipelines.dedup.warm.warm` makes both: run it once after installing (``techscout dedup --warm``;
``scripts/install.sh`` does), and every crawl process calls it at start, where it only loads them.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import numpy as np

from pipelines.mapped import cache_dir, digest, publish

log = logging.getLogger(__name__)

#: the warm-up whose calls give the signatures the library exports: a change to it builds the library again
_WARM = Path(__file__).with_name("warm.py")



def compiled_kernels() -> dict[str, Any]:
    """Every kernel of the stage as a numba dispatcher, by name (numba imported)."""
    import pipelines.dedup.kernels as kernels

    return dict(kernels.jit())


LIBRARY_NAME = "dedup_kernels"


def _library_folder(root: Path) -> Path:
    """The folder of the ahead-of-time library made from this ``kernels.py`` (and the warm-up that calls it) by
    these versions."""
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
    return root / f"kernels-{digest([Path(kernels.SOURCE), Path(__file__), _WARM, *versions])}"


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
    warm-up; a signature with a literal argument is one numba made for a constant in another kernel's call, not one Python
    calls); a kernel called from Python with several signatures is left to numba. Returns the library's folder (None
    where no cache folder can be written). Written into a temporary folder renamed into place, like the tables."""
    from numba.core.types import Literal
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

    def write(tmp: Path) -> None:
        cc = CC(LIBRARY_NAME)
        cc.output_dir = str(tmp)
        cc.verbose = False
        for name, sigs in sorted(signatures.items()):
            marked = getattr(kernels, name)
            callable_from_python = [sig for sig in sigs if not any(isinstance(t, Literal) for t in sig)]
            if len(callable_from_python) == 1:  # a literal signature comes from a constant in another kernel's call
                cc.export(name, callable_from_python[0])(getattr(marked, "py_func", marked))
            elif callable_from_python:
                log.warning(
                    "dedup kernel %s is called with %d signatures: left to numba", name, len(callable_from_python)
                )
        cc.compile()

    publish(folder, write)
    log.info("compiled the dedup kernels ahead of time into %s (%.1fs)", folder, time.perf_counter() - t0)
    return folder
