"""Warming up: the read-only tables built or mapped and every compiled kernel loaded (or compiled) before the
first document, so that a crawl neither compiles nor parses anything (see :mod:`pipelines.dedup.cache`).
"""

from __future__ import annotations

import logging
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from pipelines.dedup.cache import build_library, compiled_kernels, load_library
from pipelines.dedup.index import DedupIndex
from pipelines.dedup.minhash import containment
from pipelines.dedup.prepare import document_keys
from pipelines.dedup.rules import NEAR_DUPLICATE
from pipelines.dedup.text import lowered_words
from pipelines.dedup.words import dictionary

log = logging.getLogger(__name__)


def warm(build: bool = False) -> dict[str, Any]:
    """Load (or build) the read-only tables and the kernels, by running the index once on a few documents
    through every path a crawl and a batch take.

    The kernels come from their ahead-of-time library when one was built for this ``kernels.py`` (numba is not
    imported then); else from numba's cache (compiled where missing), and with ``build`` the library is built
    then from the signatures the run used (``techscout dedup --warm`` at install, the scheduler at start).
    Returns what it did: seconds taken, ``library`` (whether the ahead-of-time library runs the kernels; with
    ``build``, whether it was built), and the kernels numba had to compile because they were not in its cache
    (empty on a warmed machine)."""
    t0 = time.perf_counter()
    library = load_library()
    if library is not None:
        _run()
        return {"seconds": time.perf_counter() - t0, "compiled": [], "library": True,
                "kernels": sum(1 for name in dir(library) if not name.startswith("_"))}
    kernels = compiled_kernels()
    before = {name: sum(k.stats.cache_misses.values()) for name, k in kernels.items()}
    _run(reopen=build)
    compiled = sorted(name for name, k in kernels.items() if sum(k.stats.cache_misses.values()) > before[name])
    seconds = time.perf_counter() - t0
    if compiled:  # expected once on a new install (``build``: the install's warm-up); a crawl should not compile
        (log.info if build else log.warning)(
            "dedup: %d kernels were compiled in this process (%.1fs), not loaded from numba's cache: %s",
            len(compiled),
            seconds,
            ", ".join(compiled),
        )
    built = False
    if build:
        built = build_library({name: list(k.signatures) for name, k in kernels.items() if k.signatures}) is not None
        seconds = time.perf_counter() - t0
    return {"seconds": seconds, "compiled": compiled, "kernels": len(kernels), "library": built}


def _run(reopen: bool = False) -> None:
    """The index run once through every path a crawl and a batch take; with ``reopen`` (when the library is
    built) also the path that reads an index back from its file, written into a temporary folder — not at each
    crawl's start, which must write nothing (its data directory may be on a full disk)."""
    dictionary()
    lowered_words()
    lead = "近日，某大学科研团队在“新型储能材料”研究方面取得进展，相关成果于5月1日发表在国际期刊上。"
    docs: list[dict[str, Any]] = [
        {"id": "w0", "text": lead * 3, "title": "科研团队研发新型储能材料", "published": "2024-05-01"},
        {"id": "w1", "text": lead * 3 + "\n该材料有望应用于新能源汽车。", "title": "", "published": "2024-05-02"},
        {"id": "w2", "text": "Ünïcode İ text, 𝐀 beyond the plane. " * 4, "title": "", "published": None},
        {"id": "w3", "text": "", "title": "详见附件", "published": None},
    ]
    index = DedupIndex()
    index.add_many(docs)
    for doc in docs:  # the crawl's path: a lookup, then the add of the same document
        index.lookup(doc["id"] + "+", doc["text"], title=doc.get("title", ""), published=doc["published"])
        index.add(doc["id"] + "+", doc["text"], title=doc.get("title", ""), published=doc["published"])
    index.add_many(docs, normalized=True, batch=2)
    # the rule as other indexes call it (the shared index of distributed crawls)
    keys = [document_keys(doc["text"], title=doc["title"]) for doc in docs[:2]]
    sizes = np.array([k.size for k in keys], dtype=np.int64)
    js, same, _ = NEAR_DUPLICATE.verify(
        keys[0].signature,
        keys[0].size,
        int(keys[0].fingerprint, 16),
        np.stack([k.signature for k in keys]),
        sizes,
        np.array([int(k.fingerprint, 16) for k in keys], dtype=np.uint64),
    )
    NEAR_DUPLICATE.accepts(js, same, containment(js, keys[0].size, sizes))
    if not reopen:
        return
    # a crawl's index is read from its file (the data directory's dedup.sqlite): the path that loads it
    with tempfile.TemporaryDirectory(prefix="techscout-warm-") as tmp:
        saved = DedupIndex.open(Path(tmp) / "dedup.sqlite")
        saved.add_many(docs)
        saved.close()
        loaded = DedupIndex.open(Path(tmp) / "dedup.sqlite")
        loaded.lookup("w9", docs[0]["text"], title=docs[0]["title"], published=docs[0]["published"])
        loaded.close()
