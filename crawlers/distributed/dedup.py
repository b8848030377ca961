"""The duplicate lookup shared by every worker (``techscout:dedup:*``), behind the interface the dedup stage
uses. The near-duplicate rule and its thresholds are :mod:`pipelines.dedup`'s; only the storage is here."""

from __future__ import annotations

import time
import uuid
from typing import Any

import numpy as np

from core.errors import DistributedError
from crawlers.distributed.connection import connect, dedup_prefix, redis_url_of

_LOCK_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class RedisDedupIndex:
    """Exact and near-duplicate lookup shared by every worker, with the interface the dedup pipeline uses
    (``lookup``, ``add``, ``source_of``, ``close``).

    Redis holds the exact fingerprints (``techscout:dedup:fp``: fingerprint → first document), the LSH band
    keys (``techscout:dedup:band:<key>``: set of documents) and per document its MinHash signature, size,
    source, cluster and story (``techscout:dedup:doc:<id>``). Candidates come from the bands and are confirmed
    with the thresholds of :mod:`pipelines.dedup`; an add runs under a short Redis lock so two workers never
    both found a cluster for one text. Story grouping of articles that are not duplicates is done by a local
    in-memory :class:`pipelines.dedup.DedupIndex` (the worker's own documents).
    """

    def __init__(self, server: Any, prefix: str = "") -> None:
        from pipelines.dedup import DedupIndex

        self.server = server
        self.prefix = prefix or dedup_prefix()
        self.local = DedupIndex()
        self._release = server.register_script(_LOCK_RELEASE)

    # -- helpers ---------------------------------------------------------------------------------------------
    def _prepare(self, text: str, title: str, normalized: bool) -> tuple[int, Any, int, Any]:
        from pipelines.dedup import document_keys

        keys = document_keys(text, title=title, normalized=normalized)  # the local index's keys, headline rule too
        return int(keys.fingerprint, 16), keys.signature, int(keys.size), keys.bands

    def _doc(self, doc_id: str) -> str:
        return f"{self.prefix}:doc:{doc_id}"

    def _probe(
        self, doc_id: str, fp: int, sig: Any, size: int, bands: Any
    ) -> tuple[str | None, bool, float, dict[str, str]]:
        """(duplicate_of, exact, similarity, the duplicate's fields)."""
        from pipelines.dedup import NEAR_DUPLICATE, best_match  # the one home of the rule and its thresholds

        pipe = self.server.pipeline()
        for key in np.asarray(bands).ravel().tolist():
            pipe.smembers(f"{self.prefix}:band:{int(key):x}")
        cands = sorted({m.decode() for members in pipe.execute() for m in members} - {doc_id})
        best: tuple[str, bool, float, dict[str, str]] | None = None
        if cands:
            pipe = self.server.pipeline()
            for c in cands:
                pipe.hgetall(self._doc(c))
            docs = [{k.decode(): v for k, v in d.items()} for d in pipe.execute()]
            rows = [
                (c, d)
                for c, d in zip(cands, docs, strict=True)
                if d.get("alive", b"1") == b"1" and "sig" in d
            ]
            if rows:
                sigs = np.stack([np.frombuffer(d["sig"], dtype=np.uint32) for _, d in rows])
                sizes = np.array([int(d["size"]) for _, d in rows], dtype=np.int64)
                fps = np.array([int(d["fp"], 16) for _, d in rows], dtype=np.uint64)
                js, same, ok = NEAR_DUPLICATE.verify(sig, size, fp, sigs, sizes, fps)
                seq = [int(float(d.get("seq", b"0"))) for _, d in rows]
                order = {s_: i for i, s_ in enumerate(seq)}  # earliest seen first among equals
                chosen = best_match((seq[i], float(js[i]), bool(same[i])) for i in np.flatnonzero(ok).tolist())
                if chosen is not None:
                    i = order[chosen[0]]
                    c, d = rows[i]
                    best = (c, chosen[2], chosen[1], {k: v.decode() for k, v in d.items() if k != "sig"})
        if best is None:
            first = self.server.hget(f"{self.prefix}:fp", f"{fp:016x}")
            if first is not None and first.decode() != doc_id:
                d = {
                    k.decode(): v.decode()
                    for k, v in self.server.hgetall(self._doc(first.decode())).items()
                    if k != b"sig"
                }
                if d:
                    return first.decode(), True, 1.0, d
            return None, False, 0.0, {}
        return best

    def _result(
        self, doc_id: str, fp: int, dup: str | None, exact: bool, sim: float, d: dict[str, str], story: str
    ) -> Any:
        from pipelines.dedup import DedupResult

        if dup is not None:
            return DedupResult(dup, exact, d.get("cluster", dup), d.get("story", dup), sim, f"{fp:016x}")
        own = self.server.hmget(self._doc(doc_id), ["cluster", "story"])
        cluster = own[0].decode() if own[0] else doc_id
        if own[1] and story == doc_id:
            story = own[1].decode()
        return DedupResult(None, False, cluster, story, 0.0, f"{fp:016x}")

    # -- the interface ---------------------------------------------------------------------------------------
    def lookup(
        self,
        doc_id: str,
        text: str,
        *,
        title: str = "",
        published: str | None = None,
        url: str = "",
        source: str = "",
        normalized: bool = False,
    ) -> Any:
        fp, sig, size, bands = self._prepare(text, title, normalized)
        dup, exact, sim, d = self._probe(doc_id, fp, sig, size, bands)
        local = self.local.lookup(
            doc_id, text, title=title, published=published, url=url, source=source, normalized=normalized
        )
        return self._result(doc_id, fp, dup, exact, sim, d, local.story_id)

    def add(
        self,
        doc_id: str,
        text: str,
        *,
        title: str = "",
        published: str | None = None,
        url: str = "",
        source: str = "",
        cluster_id: str | None = None,
        story_id: str | None = None,
        normalized: bool = False,
    ) -> Any:
        from dataclasses import replace

        fp, sig, size, bands = self._prepare(text, title, normalized)
        token = uuid.uuid4().hex
        lock = f"{self.prefix}:lock"
        deadline = time.monotonic() + 30
        while not self.server.set(lock, token, nx=True, px=10_000):
            if time.monotonic() > deadline:
                raise DistributedError("the shared duplicate index stayed locked for 30 s")
            time.sleep(0.002)
        try:
            dup, exact, sim, d = self._probe(doc_id, fp, sig, size, bands)
            local = self.local.lookup(
                doc_id, text, title=title, published=published, url=url, source=source, normalized=normalized
            )
            result = self._result(doc_id, fp, dup, exact, sim, d, local.story_id)
            if cluster_id or story_id:
                result = replace(
                    result, cluster_id=cluster_id or result.cluster_id, story_id=story_id or result.story_id
                )
            seq = int(self.server.incr(f"{self.prefix}:seq"))
            pipe = self.server.pipeline(transaction=True)
            pipe.hset(
                self._doc(doc_id),
                mapping={
                    "sig": np.asarray(sig, dtype=np.uint32).tobytes(),
                    "size": size,
                    "fp": f"{fp:016x}",
                    "source": source,
                    "cluster": result.cluster_id,
                    "story": result.story_id,
                    "seq": seq,
                    "published": published or "",
                    "alive": "1",
                },
            )
            pipe.hsetnx(f"{self.prefix}:fp", f"{fp:016x}", doc_id)
            for key in np.asarray(bands).ravel().tolist():
                pipe.sadd(f"{self.prefix}:band:{int(key):x}", doc_id)
            pipe.execute()
        finally:
            self._release(keys=[lock], args=[token])
        self.local.add(
            doc_id,
            text,
            title=title,
            published=published,
            url=url,
            source=source,
            cluster_id=result.cluster_id,
            story_id=result.story_id,
            normalized=normalized,
        )
        return result

    def source_of(self, doc_id: str) -> str | None:
        raw = self.server.hget(self._doc(doc_id), "source")
        return raw.decode() if raw is not None else None

    def __contains__(self, doc_id: object) -> bool:
        return bool(self.server.exists(self._doc(str(doc_id))))

    def close(self) -> None:
        self.local.close()


def _dedup_base() -> type:
    from pipelines.dedup import DedupPipeline

    return DedupPipeline


class SharedDedupPipeline(_dedup_base()):  # type: ignore[misc]
    """The dedup stage over :class:`RedisDedupIndex`."""

    def __init__(self, data_dir: str, stats: Any = None, redis_url: str = "", settings: Any = None) -> None:
        super().__init__(data_dir, stats, settings)
        self.redis_url = redis_url

    @classmethod
    def from_crawler(cls, crawler: Any) -> SharedDedupPipeline:
        from crawlers.settings import settings_of

        settings = settings_of(crawler)
        return cls(str(settings.data_dir), getattr(crawler, "stats", None), redis_url_of(crawler), settings)

    def open_spider(self) -> None:
        self.index = RedisDedupIndex(connect(self.redis_url))

