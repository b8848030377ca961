"""Copy the embedded store into another backend (``techscout migrate``) and rebuild indices (``techscout reindex``).

A migration copies records, URL states, documents and revisions, in that order, in batches. After each batch
it writes a checkpoint to the source's ``meta`` records, so an interrupted migration resumes where it stopped;
at the end it compares the counts of both sides.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from search.backends.base import COLLECTIONS, Backend

if TYPE_CHECKING:
    from search.backends.embedded import EmbeddedBackend

MigrationTarget = Backend


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


