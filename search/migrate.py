"""Copy the embedded store into another backend (``techscout migrate``) and rebuild indices (``techscout reindex``).

A migration copies records, URL states, documents and revisions, in that order, in batches. After each batch
it writes a checkpoint to the source's ``meta`` records, so an interrupted migration resumes where it stopped;
at the end it compares the counts of both sides.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from crawlers.errors import BackendError
from search.backends.base import COLLECTIONS, Backend

if TYPE_CHECKING:
    from crawlers.settings import Settings
    from search.backends.embedded import EmbeddedBackend


class MigrationTarget(Backend, Protocol):
    def import_revisions(self, revisions: Any) -> None: ...

    def counts(self) -> dict[str, int]: ...


@dataclass
class MigrationReport:
    copied: dict[str, int] = field(default_factory=dict)
    source_counts: dict[str, int] = field(default_factory=dict)
    target_counts: dict[str, int] = field(default_factory=dict)
    resumed: bool = False

    @property
    def mismatches(self) -> dict[str, tuple[int, int]]:
        return {
            k: (n, self.target_counts.get(k, 0))
            for k, n in self.source_counts.items()
            if self.target_counts.get(k, 0) < n
        }

    @property
    def ok(self) -> bool:
        return not self.mismatches


def checkpoint_id(target_name: str, location: str) -> str:
    return f"migrate:{target_name}:{location}"


def migrate(
    source: EmbeddedBackend,
    target: MigrationTarget,
    *,
    location: str,
    batch_size: int = 500,
    restart: bool = False,
    progress: Callable[[str], None] | None = None,
) -> MigrationReport:
    """Copy everything from ``source`` into ``target``, resuming from the checkpoint for ``location``."""
    say = progress or (lambda _msg: None)
    ck_id = checkpoint_id(target.name, location)
    state: dict[str, Any] = {} if restart else dict(source.get_record("meta", ck_id) or {})
    report = MigrationReport(resumed=bool(state))
    copied = {"records": 0, "url_states": 0, "documents": 0, "revisions": 0}
    copied.update(state.get("copied", {}))

    def save(**changes: Any) -> None:
        state.update(changes, copied=copied)
        source.put_record("meta", ck_id, state)

    if not state.get("records_done"):
        for collection in COLLECTIONS:
            for rid, data in source.all_records(collection):
                if collection == "meta" and rid.startswith("migrate:"):
                    continue
                target.put_record(collection, rid, data)
                copied["records"] += 1
        save(records_done=True)
        say(f"records: {copied['records']}")

    if not state.get("url_states_done"):
        batch = []
        for st in source.all_url_states():
            batch.append(st)
            if len(batch) >= batch_size:
                target.record_url_states(batch)
                copied["url_states"] += len(batch)
                batch = []
        if batch:
            target.record_url_states(batch)
            copied["url_states"] += len(batch)
        save(url_states_done=True)
        say(f"URL states: {copied['url_states']}")

    last = int(state.get("documents_after", 0))
    docs = []
    for rowid, art in source.iter_rows(after=last, batch_size=batch_size):
        docs.append(art)
        last = rowid
        if len(docs) >= batch_size:
            target.upsert(docs)
            copied["documents"] += len(docs)
            docs = []
            save(documents_after=last)
            say(f"documents: {copied['documents']}")
    if docs:
        target.upsert(docs)
        copied["documents"] += len(docs)
        save(documents_after=last)
    say(f"documents: {copied['documents']}")

    done = int(state.get("revisions_done", 0))
    revs = list(source.all_revisions())[done:]
    for i in range(0, len(revs), batch_size):
        chunk = revs[i : i + batch_size]
        target.import_revisions(chunk)
        copied["revisions"] += len(chunk)
        done += len(chunk)
        save(revisions_done=done)
    say(f"revisions: {copied['revisions']}")

    report.copied = dict(copied)
    report.source_counts = source.counts()
    report.source_counts["records:meta"] = sum(
        1 for rid, _ in source.all_records("meta") if not rid.startswith("migrate:")
    )
    report.target_counts = target.counts()
    save(finished=report.ok)
    return report


def _open_target(args: argparse.Namespace, settings: Settings) -> tuple[MigrationTarget, str]:
    if args.to == "elasticsearch":
        from search.backends.elastic import ElasticBackend

        url = args.url or settings.elasticsearch_url
        if not url:
            raise BackendError("migrate --to elasticsearch needs --url (or the elasticsearch_url setting)")
        prefix = args.prefix or settings.elasticsearch_prefix
        return ElasticBackend(url, prefix=prefix), f"{url}/{prefix}"
    from search.backends.embedded import EmbeddedBackend

    if not args.path:
        raise BackendError("migrate --to embedded needs --path FILE (the new SQLite file)")
    return EmbeddedBackend(args.path), str(args.path)


def cli_migrate(args: argparse.Namespace, settings: Settings) -> int:
    """``techscout migrate --to elasticsearch --url URL``: copy the embedded store, resumably, and verify."""
    from search.backends.embedded import EmbeddedBackend

    source = EmbeddedBackend(settings.data_dir / "techscout.sqlite")
    target, location = _open_target(args, settings)
    try:
        report = migrate(
            source,
            target,
            location=location,
            batch_size=args.batch,
            restart=args.restart,
            progress=None if args.quiet else (lambda m: print(m, file=sys.stderr)),
        )
    finally:
        target.close()
        source.close()
    print(f"{'what':<24} {'source':>10} {'target':>10}")
    for key, n in report.source_counts.items():
        print(f"{key:<24} {n:>10} {report.target_counts.get(key, 0):>10}")
    if not report.ok:
        print("techscout: migration incomplete: " + ", ".join(report.mismatches), file=sys.stderr)
        return 1
    return 0


def cli_reindex(args: argparse.Namespace, settings: Settings) -> int:
    """``techscout reindex``: rebuild the full-text index (embedded) or a new versioned index (Elasticsearch)."""
    if settings.backend == "elasticsearch":
        from search.backends.elastic import ElasticBackend

        es = ElasticBackend.from_settings(settings)
        try:
            name = es.reindex()
        finally:
            es.close()
        print(f"alias {es.alias} now points at {name}")
        return 0
    from search.backends.embedded import EmbeddedBackend

    emb = EmbeddedBackend(settings.data_dir / "techscout.sqlite", check_tokenizer=False)
    try:
        n = emb.reindex()
    finally:
        emb.close()
    print(f"reindexed {n} documents")
    return 0
