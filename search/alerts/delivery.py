"""Alert runs: match the new documents, write the delivery log, send, retry, and send the digests.

``deliveries`` records: one per (subscription, near-duplicate cluster), id = :func:`delivery_id`; states
``queued`` (waiting for a digest) → ``pending`` (being sent) → ``sent`` | ``failed`` (retried with exponential
backoff; ``techscout alerts retry`` resends at once) | ``cancelled`` (its subscription was deleted or disabled).
Digests are deliveries too (id from the subscription and the digest slot) listing the item deliveries they carry.

A run writes every delivery it is about to send ``pending`` first, then sends them, and writes each one ``sent``
or ``failed`` as soon as its channels have answered. A crash in between resends on the next run only what was
still ``pending`` (at-least-once for the in-flight messages, never a lost one); the delivery id is in every
message so that a receiver can drop the repeat.

Receivers are served independently: the sends of one run are grouped by receiver (a webhook or mail server's
host and port, an IM bot), each group is worked through in its own thread with its own retries and backoff, and
every attempt has a connect and a read timeout — a receiver that hangs or rate-limits delays only its own
messages. A stored URL that cannot be used fails its own delivery with the reason, never the run.
Runs are serialised by a lock file in the data directory.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import queue
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import search.alerts.channels as channels
from core import clock
from core.errors import SubscriptionError
from core.items import Article
from search.alerts.matching import eligible, match_subscriptions
from search.alerts.messages import Message, render
from search.alerts.needs import alerts_config, need_match, need_terms, owner_channels
from search.alerts.subscriptions import load_subscriptions, parse_digest_at, stored_subscription
from search.matching import compile_query, doc_view
from search.query import Query
from search.text import snippet

if TYPE_CHECKING:
    from core.settings import Settings
    from search.backends.base import Backend
    from search.query import Hit

TZ = clock.TZ
MAX_AUTO_RETRIES = 8  # failed deliveries are retried automatically this many runs, then only by `alerts retry`
RETRY_BASE_S = 60.0  # first automatic retry after a failed run: 1 min, then 2, 4, … (capped at 6 h)
RETRY_CAP_S = 6 * 3600.0
RATE_LIMIT_WAIT_CAP_S = 60.0  # a receiver's Retry-After is obeyed up to this many seconds within a run
CURSOR_ID = "alerts-cursor"

Sender = Callable[..., channels.Attempt]


def delivery_id(subscription_id: str, cluster_id: str) -> str:
    """The idempotency key of a delivery: a hash of (subscription id, cluster id)."""
    return hashlib.sha1(f"{subscription_id}\x00{cluster_id}".encode()).hexdigest()[:24]


def digest_slot(digest_at: str | None, now: datetime) -> datetime:
    """The most recent scheduled digest time (Asia/Shanghai) at or before ``now``."""
    weekday, hour, minute = parse_digest_at(digest_at)
    local = now.astimezone(TZ)
    slot = local.replace(hour=hour, minute=minute, second=0, microsecond=0)
    if weekday is None:
        if slot > local:
            slot -= timedelta(days=1)
    else:
        slot -= timedelta(days=(slot.weekday() - weekday) % 7)
        if slot > local:
            slot -= timedelta(days=7)
    return slot


@dataclass
class RunOptions:
    tries: int = 3  # attempts per channel within one run
    backoff: float = 1.0  # seconds before the second attempt; doubles each time
    sleep: Callable[[float], None] = time.sleep
    sender: Sender | None = None  # channels.send_once (replaceable to inject a crash in tests)
    receivers_at_once: int = 8  # receivers served in parallel


@dataclass
class RunSummary:
    considered: int = 0
    subscriptions: int = 0
    matched: int = 0
    sent: int = 0
    failed: int = 0
    queued: int = 0
    already: int = 0  # matches whose (subscription, cluster) was delivered before
    digests: int = 0
    needs: int = 0
    resent: int = 0  # pending (interrupted) or failed deliveries sent again
    errors: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class _Job:
    """One delivery to send: its record, its message and its channels."""

    record: dict[str, Any]
    message: Message
    urls: list[str]
    after_sent: Callable[[dict[str, Any]], None] | None = None
    remaining: int = 0
    attempts: int = 0


@contextlib.contextmanager
def _run_lock(settings: Settings) -> Iterator[None]:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    with open(settings.paths.alerts_lock, "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _item(article: Article, words: Sequence[str], matched_terms: Sequence[str] = ()) -> dict[str, Any]:
    text = article.search_text or article.text
    return {
        "doc_id": article.id,
        "cluster_id": article.cluster_id or article.id,
        "title": article.title or article.search_title,
        "url": article.url,
        "source": article.source,
        "outlet": article.outlet,
        "published": article.published,
        "snippet_html": snippet(text, list(words or matched_terms)),
        "matched_terms": list(matched_terms),
    }


def _load_articles(backend: Backend, doc_ids: Sequence[str]) -> list[Article]:
    arts = backend.get_many(list(dict.fromkeys(doc_ids)))
    for a in arts:
        a.cluster_id = a.cluster_id or a.id
    return arts


def receiver_key(url: str) -> str:
    """Which receiver a channel URL reaches: an IM bot is its own receiver; e-mail and webhooks are their
    server's host and port."""
    channel = channels.channel_of(url)
    if channel is None or channel.api:
        return channels.channel_key(url)
    from core import netguard

    try:
        parsed = netguard.parse_url(url, field="notify")
    except Exception:
        return channels.channel_key(url)
    return f"{channel.kind}:{parsed.host}:{parsed.effective_port or parsed.port or ''}"


class _Dispatch:
    """Sends the jobs of one run: one thread per receiver at a time, results handed back to the caller's thread
    (which alone writes the delivery log)."""

    def __init__(self, backend: Backend, settings: Settings, opts: RunOptions, now: datetime, summary: RunSummary):
        self.backend, self.settings, self.opts, self.now, self.summary = backend, settings, opts, now, summary
        self.jobs: list[_Job] = []

    def add(self, job: _Job) -> None:
        job.record["state"] = "pending"
        job.record["updated"] = clock.now_iso()
        self.backend.put_record("deliveries", job.record["id"], job.record)
        self.jobs.append(job)

    def run(self) -> None:
        tasks: dict[str, list[tuple[int, str]]] = defaultdict(list)
        for i, job in enumerate(self.jobs):
            done = {k for k, v in (job.record.get("channels") or {}).items() if v == "sent"}
            todo = [u for u in dict.fromkeys(job.urls) if channels.channel_key(u) not in done]
            job.remaining = len(todo)
            for url in todo:
                tasks[receiver_key(url)].append((i, url))
            if not todo:
                self._finish(job)
        if not tasks:
            self.jobs = []
            return
        results: queue.Queue[tuple[int, str, channels.Attempt, int] | BaseException] = queue.Queue()
        stop = threading.Event()
        n_tasks = sum(len(t) for t in tasks.values())
        with ThreadPoolExecutor(max_workers=max(1, self.opts.receivers_at_once), thread_name_prefix="alerts") as pool:
            for group in tasks.values():
                pool.submit(self._serve, group, results, stop)
            failure: BaseException | None = None
            for _ in range(n_tasks):
                item = results.get()
                if isinstance(item, BaseException):
                    failure = failure or item
                    stop.set()
                    break
                index, url, attempt, tries = item
                self._record(self.jobs[index], url, attempt, tries)
        if failure is not None:
            raise failure
        self.jobs = []

    def _serve(
        self,
        group: list[tuple[int, str]],
        results: queue.Queue[tuple[int, str, channels.Attempt, int] | BaseException],
        stop: threading.Event,
    ) -> None:
        send = self.opts.sender or channels.send_once
        allow = self.settings.allow_private_urls
        try:
            for index, url in group:
                if stop.is_set():
                    return
                message = self.jobs[index].message
                attempt = channels.Attempt(False, "未发送")
                tries = 0
                for n in range(max(1, self.opts.tries)):
                    if n:
                        wait = self.opts.backoff * 2 ** (n - 1)
                        if attempt.retry_after is not None:
                            wait = max(wait, min(attempt.retry_after, RATE_LIMIT_WAIT_CAP_S))
                        self.opts.sleep(wait)
                    tries += 1
                    attempt = send(
                        url, message.title, message.text, message.html, message.delivery_id, allow_private=allow
                    )
                    if attempt.ok or attempt.permanent:
                        break
                results.put((index, url, attempt, tries))
        except BaseException as exc:  # a sender that raises (a bug, or a crash injected by a test)
            results.put(exc)

    def _record(self, job: _Job, url: str, attempt: channels.Attempt, tries: int) -> None:
        key = channels.channel_key(url)
        chans = dict(job.record.get("channels") or {})
        chans[key] = "sent" if attempt.ok else "failed"
        job.record["channels"] = chans
        job.attempts = max(job.attempts, tries)
        if not attempt.ok:
            errors = dict(job.record.get("channel_errors") or {})
            errors[key] = f"{channels.redact(url)}: {attempt.error}"
            job.record["channel_errors"] = errors
        else:
            (job.record.get("channel_errors") or {}).pop(key, None)
        job.remaining -= 1
        if job.remaining <= 0:
            self._finish(job)

    def _finish(self, job: _Job) -> None:
        record = job.record
        record["attempts"] = int(record.get("attempts") or 0) + job.attempts
        record["updated"] = clock.now_iso()
        chans = record.get("channels") or {}
        wanted = {channels.channel_key(u) for u in job.urls}
        if job.urls and all(chans.get(k) == "sent" for k in wanted):
            record["state"] = "sent"
            record["sent_at"] = record["updated"]
            for key in ("error", "next_attempt", "channel_errors"):
                record.pop(key, None)
            self.summary.sent += 1
        else:
            failures = int(record.get("failed_runs") or 0) + 1
            record["failed_runs"] = failures
            record["state"] = "failed"
            record["error"] = "; ".join((record.get("channel_errors") or {}).values()) or "没有通知地址"
            if failures < MAX_AUTO_RETRIES:
                delay = min(RETRY_CAP_S, RETRY_BASE_S * 2 ** (failures - 1))
                record["next_attempt"] = clock.iso(self.now + timedelta(seconds=delay))
            else:
                record["next_attempt"] = None  # only `techscout alerts retry` resends it now
            self.summary.failed += 1
            self.summary.errors.append(f"{record['id']}: {record['error']}")
        self.backend.put_record("deliveries", record["id"], record)
        if record["state"] == "sent" and job.after_sent is not None:
            job.after_sent(record)


# ----------------------------------------------------------------------------------------------------------
# what a run sends
# ----------------------------------------------------------------------------------------------------------
def _message_for(backend: Backend, record: Mapping[str, Any]) -> tuple[Message, list[str]] | str:
    """The message and channels of a stored delivery, or why it cannot be sent any more."""
    kind = record.get("kind", "item")
    if kind == "need":
        msg = render("need", [record["item"]], record["id"], need=record.get("need_name", ""))
        return msg, list(record.get("notify") or [])
    sub_rec = backend.get_record("subscriptions", str(record.get("subscription")))
    if sub_rec is None or sub_rec.get("enabled", True) is False:
        return "订阅已删除或停用"
    try:
        sub = stored_subscription(sub_rec)
    except SubscriptionError as exc:
        return f"订阅无法使用：{exc}"
    if kind == "digest":
        items = [r["item"] for r in (backend.get_record("deliveries", i) for i in record.get("items", [])) if r]
        msg = render("digest", items, record["id"], subscription=sub["name"], period=record.get("period", ""))
        return msg, sub["notify"]
    return render("item", [record["item"]], record["id"], subscription=sub["name"]), sub["notify"]


def _finish_digest(backend: Backend) -> Callable[[dict[str, Any]], None]:
    def finish(record: dict[str, Any]) -> None:
        for item_id in record.get("items", []):
            item = backend.get_record("deliveries", item_id)
            if item and item.get("state") != "sent":
                item.update(state="sent", sent_at=record.get("sent_at"), digest=record["id"])
                backend.put_record("deliveries", item_id, item)

    return finish


def _queue_retries(backend: Backend, dispatch: _Dispatch, now: datetime, force: bool, ids: Sequence[str] | None) -> None:
    due = backend.list_records("deliveries", {"state": "pending"}, limit=100_000, newest_first=False)
    for rec in backend.list_records("deliveries", {"state": "failed"}, limit=100_000, newest_first=False):
        at = clock.parse_time(rec.get("next_attempt"))
        if force or (at is not None and at <= now):
            due.append(rec)
    for record in due:
        if ids and record["id"] not in ids:
            continue
        built = _message_for(backend, record)
        if isinstance(built, str):
            record.update(state="cancelled", updated=clock.now_iso(), error=built)
            backend.put_record("deliveries", record["id"], record)
            continue
        message, urls = built
        dispatch.summary.resent += 1
        after = _finish_digest(backend) if record.get("kind") == "digest" else None
        dispatch.add(_Job(record, message, urls, after))


def _queue_matches(
    backend: Backend, subs: Sequence[Mapping[str, Any]], articles: Sequence[Article], dispatch: _Dispatch
) -> None:
    summary, now = dispatch.summary, dispatch.now
    subs_by_id = {str(s["id"]): s for s in subs}
    for sub_id, arts in match_subscriptions(backend, subs, articles).items():
        sub = subs_by_id[sub_id]
        words = compile_query(sub["query"]).words
        seen_clusters: set[str] = set()
        for art in sorted(arts, key=lambda a: (a.published or "", a.id)):
            if not eligible(sub, art):
                continue
            cluster = art.cluster_id or art.id
            if cluster in seen_clusters:
                continue
            seen_clusters.add(cluster)
            summary.matched += 1
            did = delivery_id(sub_id, cluster)
            if backend.get_record("deliveries", did) is not None:
                summary.already += 1
                continue
            record: dict[str, Any] = {
                "id": did,
                "kind": "item",
                "subscription": sub_id,
                "cluster_id": cluster,
                "doc_id": art.id,
                "item": _item(art, words),
                "created": clock.iso(now),
                "attempts": 0,
            }
            if sub["mode"] == "digest":
                record["state"] = "queued"
                backend.put_record("deliveries", did, record)
                summary.queued += 1
                continue
            message = render("item", [record["item"]], did, subscription=sub["name"])
            dispatch.add(_Job(record, message, list(sub["notify"])))


def _queue_needs(backend: Backend, articles: Sequence[Article], dispatch: _Dispatch) -> None:
    projects = [a for a in articles if "project" in (a.libraries or [])]
    if not projects:
        return
    needs = backend.list_records("entries", {"library": "problem"}, limit=1_000_000, newest_first=False)
    if not needs:
        return
    default = list(alerts_config(backend).get("need_notify") or [])
    views = [doc_view(a) for a in projects]
    for entry in needs:
        terms = need_terms(entry)
        if not terms:
            continue
        own_docs = set(entry.get("doc_ids") or [])
        for view in views:
            art = view.article
            if art.id in own_docs:
                continue
            found = need_match(entry, view, terms)
            if not found:
                continue
            cluster = art.cluster_id or art.id
            did = delivery_id("need:" + str(entry["id"]), cluster)
            if backend.get_record("deliveries", did) is not None:
                dispatch.summary.already += 1
                continue
            urls = owner_channels(backend, str(entry.get("owner") or ""), default)
            if not urls:
                continue  # nobody to tell: configure `techscout alerts needs --notify URL`
            name = str(entry.get("name") or entry.get("need") or entry["id"])
            record: dict[str, Any] = {
                "id": did,
                "kind": "need",
                "entry": entry["id"],
                "need_name": name,
                "cluster_id": cluster,
                "doc_id": art.id,
                "item": _item(art, found, found),
                "notify": urls,
                "created": clock.iso(dispatch.now),
                "attempts": 0,
            }
            dispatch.summary.needs += 1
            dispatch.add(_Job(record, render("need", [record["item"]], did, need=name), urls))


def _queue_digests(backend: Backend, subs: Sequence[Mapping[str, Any]], dispatch: _Dispatch) -> None:
    now = dispatch.now
    for sub in subs:
        if sub["mode"] != "digest":
            continue
        slot = digest_slot(sub.get("digest_at"), now)
        queued = [
            r
            for r in backend.list_records(
                "deliveries", {"subscription": sub["id"], "state": "queued"}, limit=100_000, newest_first=False
            )
            if not r.get("digest") and (clock.parse_time(r.get("created")) or now) < slot
        ]
        if not queued:
            continue
        digest_id = delivery_id(sub["id"], "digest@" + clock.iso(slot))
        if backend.get_record("deliveries", digest_id) is not None:
            continue
        weekday, _, _ = parse_digest_at(sub.get("digest_at"))
        period = slot.strftime("%Y年%m月%d日") + ("每周" if weekday is not None else "每日")
        record = {
            "id": digest_id,
            "kind": "digest",
            "subscription": sub["id"],
            "slot": clock.iso(slot),
            "period": period,
            "items": [r["id"] for r in queued],
            "created": clock.iso(now),
            "attempts": 0,
        }
        backend.put_record("deliveries", digest_id, {**record, "state": "pending"})
        for r in queued:  # reserve the items for this digest
            backend.put_record("deliveries", r["id"], {**r, "digest": digest_id})
        message = render("digest", [r["item"] for r in queued], digest_id, subscription=sub["name"], period=period)
        dispatch.summary.digests += 1
        dispatch.add(_Job(record, message, list(sub["notify"]), _finish_digest(backend)))


# ----------------------------------------------------------------------------------------------------------
# the public runs
# ----------------------------------------------------------------------------------------------------------
def run_alerts(
    settings: Settings,
    doc_ids: list[str] | None = None,
    *,
    backend: Backend | None = None,
    now: datetime | None = None,
    options: RunOptions | None = None,
) -> dict[str, Any]:
    """Match new or revised documents against every subscription and every problem-library need, and deliver.

    ``doc_ids``: the documents a crawl stored or revised; ``None``: every document stored or revised since the
    last run (the backend's :meth:`~search.backends.base.Backend.changes_since`). Also resends interrupted and
    due failed deliveries and sends due digests. Returns a summary."""
    from search.backends import open_backend

    opts = options or RunOptions()
    now = now or clock.now()
    own = backend is None
    store = backend or open_backend(settings)
    summary = RunSummary()
    try:
        with _run_lock(settings):
            dispatch = _Dispatch(store, settings, opts, now, summary)
            _queue_retries(store, dispatch, now, force=False, ids=None)
            dispatch.run()
            subs = load_subscriptions(store, now)
            summary.subscriptions = len(subs)
            new_cursor: dict[str, Any] | None = None
            if doc_ids is None:
                cursor = store.get_record("meta", CURSOR_ID)
                if cursor is None:
                    earliest = min(
                        (t for t in (clock.parse_time(s.get("created")) for s in subs) if t), default=None
                    )
                    cursor = {"since": clock.iso(earliest)} if earliest else None
                ids, new_cursor = store.changes_since(cursor)
            else:
                ids = list(dict.fromkeys(doc_ids))
            articles = _load_articles(store, ids)
            summary.considered = len(articles)
            _queue_matches(store, subs, articles, dispatch)
            _queue_needs(store, articles, dispatch)
            _queue_digests(store, subs, dispatch)
            dispatch.run()
            if new_cursor is not None:
                store.put_record("meta", CURSOR_ID, {**new_cursor, "id": CURSOR_ID})
    finally:
        if own:
            store.close()
    return summary.to_dict()


def retry_deliveries(
    settings: Settings,
    ids: Sequence[str] | None = None,
    *,
    backend: Backend | None = None,
    now: datetime | None = None,
    options: RunOptions | None = None,
) -> dict[str, Any]:
    """Resend failed (and interrupted) deliveries now, whatever their next retry time."""
    from search.backends import open_backend

    opts = options or RunOptions()
    now = now or clock.now()
    own = backend is None
    store = backend or open_backend(settings)
    summary = RunSummary()
    try:
        with _run_lock(settings):
            dispatch = _Dispatch(store, settings, opts, now, summary)
            _queue_retries(store, dispatch, now, force=True, ids=ids)
            dispatch.run()
    finally:
        if own:
            store.close()
    return summary.to_dict()


def preview(
    settings: Settings, subscription: Mapping[str, Any], limit: int = 10, *, backend: Backend | None = None
) -> list[Hit]:
    """Recent documents the subscription would have matched (newest first, one per near-duplicate cluster)."""
    from search.backends import open_backend

    sub = stored_subscription({"id": "preview", **subscription})
    own = backend is None
    store = backend or open_backend(settings)
    try:
        query = Query(
            text=sub["query"],
            filters={k: list(v) for k, v in sub["filters"].items()},
            min_relevance=sub["min_relevance"],
            sort="date",
            size=max(0, min(limit, 1000)),
            collapse=True,
        )
        return store.search(query).hits
    finally:
        if own:
            store.close()


def delivery_log(backend: Backend, state: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
    return backend.list_records("deliveries", {"state": state} if state else None, limit=limit)
