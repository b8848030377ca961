"""Alerts: saved searches (订阅) that push new relevant documents to their owners, exactly once.

Model
-----
* ``subscriptions`` records (shared with the web UI)::

    {"id", "name", "owner", "query", "filters": {"content_type": [...], "domains": [...], "region": [...],
     "source": [...], "libraries": [...]}, "min_relevance": float|null, "notify": [Apprise URLs],
     "mode": "immediate"|"digest", "digest_at": "daily@08:00"|"weekly@mon 08:00"|null, "created": ISO,
     "enabled": true}

* ``deliveries`` records: one per (subscription, near-duplicate cluster), id = :func:`delivery_id`; states
  ``queued`` (waiting for a digest) → ``pending`` (being sent) → ``sent`` | ``failed`` (retried with exponential
  backoff; ``techscout alerts retry`` resends at once). Digests are deliveries too (id from the subscription
  and the digest slot) listing the item deliveries they carry.

* Every problem-library entry (``entries`` with ``library == "problem"``) is a standing query: a new
  project-library achievement that shares enough of the need's key terms notifies the need's owner.

Matching
--------
:func:`run_alerts` takes the new or revised documents of a crawl (or, with ``None``, every document stored
since the last run) and matches them against every enabled subscription. A subscription only sees documents
fetched after it was created (its watermark): a new subscription never floods its owner with history —
:func:`preview` shows recent matches instead. A backend with a ``percolate(articles, subscriptions)`` method
(Elasticsearch) matches there; otherwise the saved queries are evaluated in process by :class:`Matcher`,
which gives exactly the result of ``backend.search(Query(text, filters, ids=new_ids))`` on the embedded
backend's bigram index, but for all subscriptions at once: the new documents' index tokens form a small
inverted index, each subscription looks up the documents holding the rarest token of its most selective
clause, and only those candidates are checked in full.

Delivery
--------
A delivery is written ``pending`` before it is sent and ``sent`` after. A crash between the two resends that
one delivery on the next run (at-least-once for the in-flight message, never a lost one); the delivery id is
in every message (body, ``X-Techscout-Delivery`` header, ``delivery_id`` JSON field) so a receiver can drop
the repeat. Runs are serialised by a lock file in the data directory.
"""

from __future__ import annotations

import fcntl
import hashlib
import math
import re
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from core import clock
from core.errors import AlertsError, QueryError
from core.items import Article
from search import notify
from search.query import Query, Term, parse_query
from search.text import _phrase_tokens, highlight_words, index_tokens, query_words, snippet

if TYPE_CHECKING:
    from core.settings import Settings
    from search.backends.base import Backend
    from search.query import Hit

TZ = clock.TZ
FILTER_KEYS = ("content_type", "domains", "region", "source", "libraries")
MODES = ("immediate", "digest")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MAX_AUTO_RETRIES = (
    8  # failed deliveries are retried automatically this many runs, then only by `alerts retry`
)
RETRY_BASE_S = 60.0  # first automatic retry after a failed run: 1 min, then 2, 4, … (capped at 6 h)
RETRY_CAP_S = 6 * 3600.0
CONFIG_ID = "alerts-config"
CURSOR_ID = "alerts-cursor"


def delivery_id(subscription_id: str, cluster_id: str) -> str:
    """The idempotency key of a delivery: a hash of (subscription id, cluster id)."""
    return hashlib.sha1(f"{subscription_id}\x00{cluster_id}".encode()).hexdigest()[:24]


# ----------------------------------------------------------------------------------------------------------
# subscriptions
# ----------------------------------------------------------------------------------------------------------
_DIGEST = re.compile(r"^(?:(daily)@|(weekly)@(mon|tue|wed|thu|fri|sat|sun)\s+)?(\d{1,2}):(\d{2})$")


def parse_digest_at(value: str | None) -> tuple[int | None, int, int]:
    """``daily@08:00`` → (None, 8, 0); ``weekly@mon 08:00`` → (0, 8, 0); a bare ``08:00`` is daily."""
    text = (value or "daily@08:00").strip().lower()
    m = _DIGEST.match(text)
    if not m:
        raise AlertsError(f"digest time must look like daily@08:00 or weekly@mon 08:00, got {value!r}")
    hour, minute = int(m.group(4)), int(m.group(5))
    if hour > 23 or minute > 59:
        raise AlertsError(f"digest time out of range: {value!r}")
    weekday = WEEKDAYS.index(m.group(3)) if m.group(2) else None
    return weekday, hour, minute


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


def normalize_subscription(record: Mapping[str, Any]) -> dict[str, Any]:
    """A subscription record with every field present and checked (records written by the web UI included)."""
    sub = dict(record)
    sub_id = str(sub.get("id") or "").strip()
    if not sub_id:
        raise AlertsError("subscription without id")
    filters_in = sub.get("filters") or {}
    if not isinstance(filters_in, Mapping):
        raise AlertsError(f"subscription {sub_id}: filters must be an object")
    filters: dict[str, list[str]] = {}
    for key, values in filters_in.items():
        if key not in FILTER_KEYS:
            raise AlertsError(
                f"subscription {sub_id}: unknown filter {key!r} (known: {', '.join(FILTER_KEYS)})"
            )
        vals = [values] if isinstance(values, str) else list(values or [])
        vals = [str(v).strip() for v in vals if str(v).strip()]
        if vals:
            filters[key] = vals
    sub["filters"] = filters
    sub["query"] = str(sub.get("query") or "")
    try:
        parse_query(sub["query"])
    except QueryError as exc:
        raise AlertsError(f"subscription {sub_id}: {exc}") from None
    notify_in = sub.get("notify") or []
    sub["notify"] = (
        [notify_in] if isinstance(notify_in, str) else [str(u) for u in notify_in if str(u).strip()]
    )
    mode = sub.get("mode") or "immediate"
    if mode not in MODES:
        raise AlertsError(f"subscription {sub_id}: mode must be immediate or digest, got {mode!r}")
    sub["mode"] = mode
    digest_at = sub.get("digest_at")
    if mode == "digest":
        digest_at = str(digest_at or "daily@08:00")
        if re.fullmatch(r"\d{1,2}:\d{2}", digest_at):
            digest_at = f"daily@{digest_at}"
        parse_digest_at(digest_at)
    sub["digest_at"] = digest_at if mode == "digest" else (digest_at or None)
    rel = sub.get("min_relevance")
    sub["min_relevance"] = None if rel in (None, "") else float(rel)
    sub["enabled"] = sub.get("enabled", True) is not False
    sub.setdefault("name", sub_id)
    sub.setdefault("owner", "")
    return sub


def make_subscription(
    name: str,
    query: str,
    notify_urls: Sequence[str],
    *,
    filters: Mapping[str, Sequence[str]] | None = None,
    owner: str = "",
    mode: str = "immediate",
    digest_at: str | None = None,
    min_relevance: float | None = None,
    allow_private: bool = False,
    created: datetime | None = None,
) -> dict[str, Any]:
    """A new, validated subscription record (watermark: now)."""
    if not name.strip():
        raise AlertsError("a subscription needs a name")
    urls = [notify.check_notify_url(u, allow_private) for u in notify_urls]
    if not urls:
        raise AlertsError("a subscription needs at least one --notify URL")
    record = {
        "id": uuid.uuid4().hex[:16],
        "name": name.strip(),
        "owner": owner,
        "query": query,
        "filters": {k: list(v) for k, v in (filters or {}).items() if v},
        "min_relevance": min_relevance,
        "notify": urls,
        "mode": mode,
        "digest_at": digest_at,
        "created": clock.iso(created or clock.now()),
        "enabled": True,
    }
    return normalize_subscription(record)


def add_subscription(backend: Backend, record: Mapping[str, Any]) -> dict[str, Any]:
    sub = normalize_subscription(record)
    sub.setdefault("created", clock.iso(clock.now()))
    backend.put_record("subscriptions", sub["id"], sub)
    return sub


def load_subscriptions(backend: Backend, now: datetime | None = None) -> list[dict[str, Any]]:
    """Every valid enabled subscription. One without ``created`` gets it now (its watermark starts now)."""
    out = []
    for record in backend.list_records("subscriptions", limit=1_000_000, newest_first=False):
        try:
            sub = normalize_subscription(record)
        except (AlertsError, ValueError, TypeError):
            continue
        if not sub["enabled"]:
            continue
        if clock.parse_time(sub.get("created")) is None:
            sub["created"] = clock.iso(now or clock.now())
            backend.put_record("subscriptions", sub["id"], {**record, "created": sub["created"]})
        out.append(sub)
    return out


# ----------------------------------------------------------------------------------------------------------
# matching: the embedded index's query semantics, evaluated in process
# ----------------------------------------------------------------------------------------------------------
_FTS_TOKEN = re.compile(r"[^\W_]+")


def _fts_tokens(tokens: Sequence[str]) -> list[str]:
    """What SQLite's unicode61 tokenizer makes of already-split index tokens (``3.5`` → ``3``, ``5``)."""
    out: list[str] = []
    for tok in tokens:
        out.extend(_FTS_TOKEN.findall(tok))
    return out


@dataclass(frozen=True)
class Pattern:
    """A phrase of index tokens that must appear contiguously in one field, or a one-character prefix."""

    tokens: tuple[str, ...]
    prefix: bool = False

    @property
    def needle(self) -> str:
        return " " + " ".join(self.tokens) + ("" if self.prefix else " ")


@dataclass(frozen=True)
class CompiledQuery:
    """A parsed query as patterns: ``must`` is an AND of OR-groups of AND-lists of patterns."""

    must: tuple[tuple[tuple[Pattern, ...], ...], ...]
    must_not: tuple[tuple[Pattern, ...], ...]
    words: tuple[str, ...]  # for snippets


def _word_pattern(word: str) -> Pattern | None:
    if len(word) == 1 and _is_cjk(word):
        return Pattern((word,), prefix=True)
    toks = tuple(_fts_tokens(_phrase_tokens(word)))
    return Pattern(toks) if toks else None


def _is_cjk(ch: str) -> bool:
    return bool(re.match(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u3040-\u30ff]", ch))


def _term_patterns(term: Term) -> tuple[Pattern, ...] | None:
    if term.phrase:
        raw = _phrase_tokens(term.text)
        if not raw:
            return None
        if len(raw) == 1 and len(raw[0]) == 1 and _is_cjk(raw[0]):
            return (Pattern((raw[0],), prefix=True),)
        toks = tuple(_fts_tokens(raw))
        return (Pattern(toks),) if toks else None
    pats = [p for p in (_word_pattern(w) for w in query_words(term.text) if w) if p]
    return tuple(pats) if pats else None


@lru_cache(maxsize=65536)
def compile_query(text: str) -> CompiledQuery:
    """Compile query text (the product's query syntax) into token patterns."""
    parsed = parse_query(text)
    must = []
    for clause in parsed.must:
        alts = tuple(p for p in (_term_patterns(t) for t in clause.alternatives) if p)
        if alts:
            must.append(alts)
    must_not = tuple(p for p in (_term_patterns(t) for t in parsed.must_not) if p)
    return CompiledQuery(tuple(must), must_not, tuple(highlight_words(parsed)))


@dataclass
class DocView:
    """A document as the index sees it: its title and body token streams, and its set of lookup keys."""

    article: Article
    fields: tuple[str, ...]  # " tok tok tok " per field
    keys: frozenset[str]  # every token and every token's first character

    def has(self, pattern: Pattern) -> bool:
        needle = pattern.needle
        return any(needle in f for f in self.fields)


def doc_view(article: Article) -> DocView:
    body_parts = [article.search_text or article.text]
    body_parts += [str(a["text"]) for a in article.attachments if isinstance(a, Mapping) and a.get("text")]
    fields = []
    keys: set[str] = set()
    for text in (article.search_title or article.title, "\n".join(body_parts)):
        toks = _fts_tokens(index_tokens(text).split())
        fields.append(" " + " ".join(toks) + " ")
        keys.update(toks)
    keys.update(t[0] for t in list(keys))
    return DocView(article, tuple(fields), frozenset(keys))


def query_matches(cq: CompiledQuery, doc: DocView) -> bool:
    """Does the document match the compiled query (same answer as the embedded backend's search)?"""
    for clause in cq.must:
        if not any(all(doc.has(p) for p in alt) for alt in clause):
            return False
    return not any(all(doc.has(p) for p in term) for term in cq.must_not)


def filters_match(sub: Mapping[str, Any], article: Article) -> bool:
    """Filters (any of the listed values per field) and the relevance floor."""
    for key, values in (sub.get("filters") or {}).items():
        if not values:
            continue
        if key in ("domains", "libraries"):
            if not set(getattr(article, key) or []) & set(values):
                return False
        elif str(getattr(article, key, "") or "") not in values:
            return False
    floor = sub.get("min_relevance")
    return floor is None or (article.relevance or 0.0) >= float(floor)


def _pattern_key(p: Pattern) -> str:
    return p.tokens[0] if p.prefix else max(p.tokens, key=len)


class Matcher:
    """Matches a batch of documents against many subscriptions at once.

    The batch's tokens form an inverted index (token → documents). For each subscription the cheapest
    required clause is found (sum over its alternatives of the document frequency of each alternative's
    rarest token); only documents holding one of those tokens are candidates, and each candidate is checked
    against the whole query and the filters."""

    def __init__(self, articles: Sequence[Article]) -> None:
        self.docs = [doc_view(a) for a in articles]
        postings: dict[str, list[int]] = defaultdict(list)
        for i, d in enumerate(self.docs):
            for key in d.keys:
                postings[key].append(i)
        self.postings = postings
        self.all = list(range(len(self.docs)))

    def _candidates(self, cq: CompiledQuery) -> list[int]:
        if not cq.must:
            return self.all
        best: list[int] | None = None
        best_cost = math.inf
        for clause in cq.must:
            lists = []
            cost = 0
            for alt in clause:
                rarest = min((self.postings.get(_pattern_key(p), []) for p in alt), key=len)
                lists.append(rarest)
                cost += len(rarest)
            if cost < best_cost:
                best_cost = cost
                best = lists[0] if len(lists) == 1 else sorted(set().union(*lists))
                if cost == 0:
                    return []
        return best or []

    def match(self, sub: Mapping[str, Any]) -> list[Article]:
        """Documents of the batch that match the subscription (query and filters)."""
        cq = compile_query(str(sub.get("query") or ""))
        out = []
        for i in self._candidates(cq):
            doc = self.docs[i]
            if filters_match(sub, doc.article) and query_matches(cq, doc):
                out.append(doc.article)
        return out


def naive_match(backend: Backend, sub: Mapping[str, Any], doc_ids: Sequence[str]) -> list[str]:
    """The saved query run over the given documents by the backend itself (one search per subscription)."""
    query = Query(
        text=str(sub.get("query") or ""),
        filters={k: list(v) for k, v in (sub.get("filters") or {}).items() if v},
        ids=list(doc_ids),
        min_relevance=sub.get("min_relevance"),
        size=min(1000, max(1, len(doc_ids))),
        highlight=False,
    )
    return [h.id for h in backend.search(query).hits]


def match_subscriptions(
    backend: Backend, subscriptions: Sequence[Mapping[str, Any]], articles: Sequence[Article]
) -> dict[str, list[Article]]:
    """Subscription id → matching articles of the batch (percolator when the backend has one)."""
    if not subscriptions or not articles:
        return {}
    percolate = getattr(backend, "percolate", None)
    if callable(percolate):
        by_id = {a.id: a for a in articles}
        raw: Mapping[str, Sequence[str]] = percolate(list(articles), list(subscriptions))
        return {sid: [by_id[d] for d in ids if d in by_id] for sid, ids in raw.items() if ids}
    matcher = Matcher(articles)
    out: dict[str, list[Article]] = {}
    for sub in subscriptions:
        hits = matcher.match(sub)
        if hits:
            out[str(sub["id"])] = hits
    return out


# ----------------------------------------------------------------------------------------------------------
# problem-library needs as standing queries
# ----------------------------------------------------------------------------------------------------------
_STOP_TERMS = frozenset(
    [
        "需求",
        "技术",
        "问题",
        "项目",
        "企业",
        "公司",
        "研究",
        "开发",
        "研发",
        "解决",
        "需要",
        "相关",
        "进行",
        "实现",
        "提高",
        "提升",
        "能力",
        "合作",
        "寻求",
        "征集",
        "单位",
        "方面",
        "产品",
        "我们",
        "主要",
        "目前",
        "工作",
        "要求",
        "以上",
        "包括",
        "具有",
        "具备",
        "有限公司",
        "有限责任公司",
        "联系人",
        "联系",
        "电话",
        "万元",
        "年度",
    ]
)


@lru_cache(maxsize=4096)
def _need_terms_cached(text: str, top_k: int) -> tuple[str, ...]:
    import logging

    import jieba
    import jieba.analyse

    jieba.setLogLevel(logging.WARNING)
    terms = []
    for word in jieba.analyse.extract_tags(text, topK=top_k * 3):
        w = str(word).strip().lower()
        if len(w) < 2 or w in _STOP_TERMS or re.fullmatch(r"[\d.%]+", w):
            continue
        terms.append(w)
        if len(terms) >= top_k:
            break
    return tuple(terms)


def need_terms(entry: Mapping[str, Any], top_k: int = 8) -> list[str]:
    """The key terms of a problem-library need (its name and need statement)."""
    from pipelines.normalize import normalize_text

    text = normalize_text(" ".join(str(entry.get(k) or "") for k in ("name", "need")))
    return list(_need_terms_cached(text, top_k))


def need_match(entry: Mapping[str, Any], doc: DocView, terms: Sequence[str] | None = None) -> list[str]:
    """The need's terms found in the achievement, when enough of them are (else ``[]``).

    Two terms are enough when the need and the achievement share a tech domain, three otherwise (or all of
    them when the need has fewer)."""
    terms = list(terms if terms is not None else need_terms(entry))
    if not terms:
        return []
    found = []
    for t in terms:
        pats = _term_patterns(Term(t, phrase=True))
        if pats and all(doc.has(p) for p in pats):
            found.append(t)
    shared = set(entry.get("domains") or []) & set(doc.article.domains or []) - {"其他"}
    need = min(len(terms), 2 if shared else 3)
    return found if len(found) >= need else []


def _owner_channels(backend: Backend, owner: str, default: Sequence[str]) -> list[str]:
    owner = owner.strip()
    if "://" in owner:
        return [owner]
    if owner:
        user = backend.get_record("users", owner)
        if user and user.get("notify"):
            urls = user["notify"]
            return [urls] if isinstance(urls, str) else [str(u) for u in urls]
    return list(default)


def alerts_config(backend: Backend) -> dict[str, Any]:
    return backend.get_record("meta", CONFIG_ID) or {"id": CONFIG_ID, "need_notify": []}


# ----------------------------------------------------------------------------------------------------------
# the run
# ----------------------------------------------------------------------------------------------------------
@dataclass
class RunOptions:
    tries: int = 3  # attempts per delivery within one run
    backoff: float = 1.0  # seconds before the second attempt; doubles each time
    sleep: Callable[[float], None] = time.sleep
    sender: Callable[..., tuple[bool, str]] | None = None  # notify.send_once (replaceable for tests)


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


@contextmanager
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


def _candidate_ids(backend: Backend, since_subs: datetime | None) -> tuple[list[str], dict[str, Any]]:
    """Documents stored or revised since the last run (``doc_ids=None``) and the cursor to save after."""
    cursor = backend.get_record("meta", CURSOR_ID) or {}
    started = clock.now()
    conn_getter = getattr(backend, "_conn", None)
    if getattr(backend, "name", "") == "embedded" and callable(conn_getter):
        conn = conn_getter()
        last_rowid = int(cursor.get("rowid") or 0)
        rev_since = str(cursor.get("revised") or "")
        max_rowid = int(conn.execute("SELECT coalesce(max(rowid), 0) FROM documents").fetchone()[0])
        floor = clock.iso(since_subs) if since_subs else ""
        ids = [
            r[0]
            for r in conn.execute(
                "SELECT id FROM documents WHERE rowid > ? AND rowid <= ? AND updated >= ?",
                (last_rowid, max_rowid, floor),
            )
        ]
        ids += [
            r[0]
            for r in conn.execute(
                "SELECT DISTINCT doc_id FROM revisions WHERE at > ? AND at >= ?", (rev_since, floor)
            )
        ]
        new_cursor = {"id": CURSOR_ID, "rowid": max_rowid, "revised": clock.iso(started - timedelta(seconds=2))}
        return list(dict.fromkeys(ids)), new_cursor
    # any other backend: documents fetched since the cursor
    since = clock.parse_time(cursor.get("fetched")) or since_subs
    ids = []
    for art in backend.iter_articles():
        fetched = clock.parse_time(art.fetched)
        if since is None or (fetched is not None and fetched > since):
            ids.append(art.id)
    return ids, {"id": CURSOR_ID, "fetched": clock.iso(started - timedelta(seconds=2))}


def _load_articles(backend: Backend, doc_ids: Sequence[str]) -> list[Article]:
    arts = backend.get_many(list(dict.fromkeys(doc_ids)))
    for a in arts:
        if not a.cluster_id:
            full = backend.get(a.id)
            a.cluster_id = (full.cluster_id if full else "") or a.id
    return arts


def _eligible(sub: Mapping[str, Any], article: Article) -> bool:
    """Only documents fetched at or after the subscription's watermark (``created``)."""
    created = clock.parse_time(sub.get("created"))
    fetched = clock.parse_time(article.fetched)
    return created is None or fetched is None or fetched >= created


def _send_delivery(
    backend: Backend,
    record: dict[str, Any],
    message: notify.Message,
    urls: Sequence[str],
    settings: Settings,
    opts: RunOptions,
    now: datetime,
    summary: RunSummary,
) -> bool:
    """pending → send → sent | failed (with the next automatic retry time)."""
    record["state"] = "pending"
    record["updated"] = clock.iso(clock.now())
    backend.put_record("deliveries", record["id"], record)
    done = [k for k, v in (record.get("channels") or {}).items() if v == "sent"]
    outcome = notify.deliver(
        urls,
        message,
        tries=opts.tries,
        backoff=opts.backoff,
        allow_private=settings.allow_private_urls,
        done=done,
        sleep=opts.sleep,
        sender=opts.sender,
    )
    record["attempts"] = int(record.get("attempts") or 0) + outcome.attempts
    record["channels"] = outcome.channels
    record["updated"] = clock.iso(clock.now())
    if outcome.ok and urls:
        record["state"] = "sent"
        record["sent_at"] = record["updated"]
        record.pop("error", None)
        record.pop("next_attempt", None)
        summary.sent += 1
    else:
        failures = int(record.get("failed_runs") or 0) + 1
        record["failed_runs"] = failures
        record["state"] = "failed"
        record["error"] = "; ".join(outcome.errors.values()) or "no notification URL"
        if failures < MAX_AUTO_RETRIES:
            delay = min(RETRY_CAP_S, RETRY_BASE_S * 2 ** (failures - 1))
            record["next_attempt"] = clock.iso(now + timedelta(seconds=delay))
        else:
            record["next_attempt"] = None  # only `techscout alerts retry` resends it now
        summary.failed += 1
        summary.errors.append(f"{record['id']}: {record['error']}")
    backend.put_record("deliveries", record["id"], record)
    return record["state"] == "sent"


def _message_for(backend: Backend, record: Mapping[str, Any]) -> tuple[notify.Message, list[str]] | None:
    """The message and channels of a delivery record (None when its subscription is gone or disabled)."""
    kind = record.get("kind", "item")
    if kind == "need":
        msg = notify.render("need", [record["item"]], record["id"], need=record.get("need_name", ""))
        return msg, list(record.get("notify") or [])
    sub_rec = backend.get_record("subscriptions", str(record.get("subscription")))
    if sub_rec is None or sub_rec.get("enabled", True) is False:
        return None
    urls = list(sub_rec.get("notify") or [])
    name = str(sub_rec.get("name") or record.get("subscription"))
    if kind == "digest":
        items = [
            r["item"] for r in (backend.get_record("deliveries", i) for i in record.get("items", [])) if r
        ]
        msg = notify.render("digest", items, record["id"], subscription=name, period=record.get("period", ""))
        return msg, urls
    return notify.render("item", [record["item"]], record["id"], subscription=name), urls


def _finish_digest(backend: Backend, record: Mapping[str, Any]) -> None:
    for item_id in record.get("items", []):
        item = backend.get_record("deliveries", item_id)
        if item and item.get("state") != "sent":
            item.update(state="sent", sent_at=record.get("sent_at"), digest=record["id"])
            backend.put_record("deliveries", item_id, item)


def _resend(
    backend: Backend,
    record: dict[str, Any],
    settings: Settings,
    opts: RunOptions,
    now: datetime,
    summary: RunSummary,
) -> None:
    built = _message_for(backend, record)
    if built is None:
        record.update(state="cancelled", updated=clock.iso(clock.now()), error="subscription deleted or disabled")
        backend.put_record("deliveries", record["id"], record)
        return
    message, urls = built
    summary.resent += 1
    if (
        _send_delivery(backend, record, message, urls, settings, opts, now, summary)
        and record.get("kind") == "digest"
    ):
        _finish_digest(backend, record)


def _due_retries(backend: Backend, now: datetime, force: bool) -> list[dict[str, Any]]:
    out = backend.list_records("deliveries", {"state": "pending"}, limit=100_000, newest_first=False)
    for rec in backend.list_records("deliveries", {"state": "failed"}, limit=100_000, newest_first=False):
        due = clock.parse_time(rec.get("next_attempt"))
        if force or (due is not None and due <= now):
            out.append(rec)
    return out


def _run_digests(
    backend: Backend,
    subs: Sequence[Mapping[str, Any]],
    settings: Settings,
    opts: RunOptions,
    now: datetime,
    summary: RunSummary,
) -> None:
    for sub in subs:
        if sub["mode"] != "digest":
            continue
        slot = digest_slot(sub.get("digest_at"), now)
        queued = [
            r
            for r in backend.list_records(
                "deliveries",
                {"subscription": sub["id"], "state": "queued"},
                limit=100_000,
                newest_first=False,
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
        message = notify.render(
            "digest", [r["item"] for r in queued], digest_id, subscription=sub["name"], period=period
        )
        summary.digests += 1
        if _send_delivery(backend, record, message, sub["notify"], settings, opts, now, summary):
            _finish_digest(backend, record)


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
    last run. Also resends interrupted and due failed deliveries and sends due digests. Returns a summary."""
    from search.backends import open_backend

    opts = options or RunOptions()
    now = now or clock.now()
    own = backend is None
    store = backend or open_backend(settings)
    summary = RunSummary()
    try:
        with _run_lock(settings):
            for rec in _due_retries(store, now, force=False):
                _resend(store, rec, settings, opts, now, summary)
            subs = load_subscriptions(store, now)
            summary.subscriptions = len(subs)
            earliest = min((t for t in (clock.parse_time(s.get("created")) for s in subs) if t), default=None)
            new_cursor = None
            if doc_ids is None:
                ids, new_cursor = _candidate_ids(store, earliest)
            else:
                ids = list(dict.fromkeys(doc_ids))
            articles = _load_articles(store, ids)
            summary.considered = len(articles)
            _deliver_matches(store, subs, articles, settings, opts, now, summary)
            _deliver_needs(store, articles, settings, opts, now, summary)
            _run_digests(store, subs, settings, opts, now, summary)
            if new_cursor is not None:
                store.put_record("meta", CURSOR_ID, new_cursor)
    finally:
        if own:
            store.close()
    return summary.to_dict()


def _deliver_matches(
    backend: Backend,
    subs: Sequence[Mapping[str, Any]],
    articles: Sequence[Article],
    settings: Settings,
    opts: RunOptions,
    now: datetime,
    summary: RunSummary,
) -> None:
    subs_by_id = {str(s["id"]): s for s in subs}
    matches = match_subscriptions(backend, subs, articles)
    for sub_id, arts in matches.items():
        sub = subs_by_id[sub_id]
        words = compile_query(sub["query"]).words
        seen_clusters: set[str] = set()
        for art in sorted(arts, key=lambda a: (a.published or "", a.id)):
            if not _eligible(sub, art):
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
            message = notify.render("item", [record["item"]], did, subscription=sub["name"])
            _send_delivery(backend, record, message, sub["notify"], settings, opts, now, summary)


def _deliver_needs(
    backend: Backend,
    articles: Sequence[Article],
    settings: Settings,
    opts: RunOptions,
    now: datetime,
    summary: RunSummary,
) -> None:
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
                summary.already += 1
                continue
            urls = _owner_channels(backend, str(entry.get("owner") or ""), default)
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
                "created": clock.iso(now),
                "attempts": 0,
            }
            summary.needs += 1
            message = notify.render("need", [record["item"]], did, need=name)
            _send_delivery(backend, record, message, urls, settings, opts, now, summary)


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
            for rec in _due_retries(store, now, force=True):
                if ids and rec["id"] not in ids:
                    continue
                _resend(store, rec, settings, opts, now, summary)
    finally:
        if own:
            store.close()
    return summary.to_dict()


def preview(
    settings: Settings, subscription: Mapping[str, Any], limit: int = 10, *, backend: Backend | None = None
) -> list[Hit]:
    """Recent documents the subscription would have matched (newest first, one per near-duplicate cluster)."""
    from search.backends import open_backend

    sub = normalize_subscription({"id": "preview", **subscription})
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


# ----------------------------------------------------------------------------------------------------------
# ----------------------------------------------------------------------------------------------------------

