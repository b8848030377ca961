"""Alerts end to end: real SMTP and webhook receivers on local ports, the embedded backend, the delivery log."""

from __future__ import annotations

import json
import random
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.header import decode_header, make_header
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from core.errors import SubscriptionError
from core.items import Article
from core.settings import Settings, load_settings
from pipelines.normalize import normalize_text
from search.alerts import (
    CONFIG_ID,
    Matcher,
    RunOptions,
    channels,
    delivery_id,
    digest_slot,
    naive_match,
    need_terms,
    parse_digest_at,
    preview,
    retry_deliveries,
    run_alerts,
    save_subscription,
    stored_subscription,
    validate_subscription,
)
from search.backends.embedded import EmbeddedBackend
from tests.conftest import run_cli

FIXTURES = Path(__file__).parent / "fixtures" / "alerts"
FAST = RunOptions(tries=3, backoff=0.01)


# ----------------------------------------------------------------------------------------------------------
# receivers
# ----------------------------------------------------------------------------------------------------------
class Webhook:
    """An HTTP receiver on a free port; ``fail_next`` requests get a 500."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.requests = 0
        self.fail_next = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                outer.requests += 1
                if outer.fail_next > 0:
                    outer.fail_next -= 1
                    self.send_response(500)
                    self.end_headers()
                    return
                outer.received.append(
                    {"path": self.path, "headers": dict(self.headers), "json": json.loads(body)}
                )
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str = "/hook") -> str:
        """The URL as staff type it (a plain http webhook; stored as the json:// URL Apprise delivers to)."""
        return f"http://127.0.0.1:{self.port}{path}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Mailbox:
    def __init__(self) -> None:
        self.messages: list[bytes] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(envelope.content)
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    hook = Webhook()
    yield hook
    hook.stop()


@pytest.fixture
def smtp() -> Iterator[tuple[Mailbox, str]]:
    box = Mailbox()
    port = _free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    yield box, f"mailto://127.0.0.1:{port}?from=alerts@example.com&to=staff@example.com&mode=insecure"
    controller.stop()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(data=tmp_path / "data", env={}, allow_private_urls=True)


@pytest.fixture
def backend(settings: Settings) -> Iterator[EmbeddedBackend]:
    store = EmbeddedBackend.from_settings(settings)
    yield store
    store.close()


# ----------------------------------------------------------------------------------------------------------
# documents
# ----------------------------------------------------------------------------------------------------------
def _iso(dt: datetime) -> str:
    return dt.astimezone(UTC).isoformat(timespec="seconds")


def article(doc_id: str, title: str, text: str, fetched: datetime | None = None, **fields: Any) -> Article:
    art = Article(
        id=doc_id,
        url=f"https://news.example.cn/{doc_id}.html",
        source=fields.pop("source", "example-news"),
        fetched=_iso(fetched or datetime.now(UTC)),
        title=title,
        text=text,
        search_title=normalize_text(title),
        search_text=normalize_text(text),
        published=fields.pop("published", "2024-05-02T09:00:00+08:00"),
        **fields,
    )
    return art


def subscription(backend: EmbeddedBackend, query: str, urls: list[str], **kw: Any) -> dict[str, Any]:
    """A subscription made by the one producer every entry point calls (CLI, API, web form)."""
    created = kw.pop("created", datetime.now(UTC) - timedelta(seconds=5))
    data = {"name": "芯片动态", "query": query, "notify": urls, **kw}
    if "digest_at" in kw:
        data["mode"] = "digest"
    record = validate_subscription(data, owner="li", allow_private=True, now=created)
    return save_subscription(backend, record)


CHIP_1 = (
    "我国科研团队研制出新型人工智能芯片",
    "近日，某大学团队发布新型人工智能芯片，能效比提升十倍。该芯片面向边缘计算。",
)
CHIP_2 = (
    "人工智能芯片产业联盟成立",
    "多家企业联合成立人工智能芯片产业联盟，推动国产芯片在智能制造中的应用。",
)
OTHER = ("小麦新品种通过审定", "农业科学院培育的小麦新品种亩产提高百分之八，抗倒伏能力强。")


def _titles(hook: Webhook) -> list[str]:
    return [r["json"]["title"] for r in hook.received]


def _mail_subjects(box: Mailbox) -> list[str]:
    return [str(make_header(decode_header(message_from_bytes(m)["Subject"]))) for m in box.messages]


# ----------------------------------------------------------------------------------------------------------
# immediate alerts
# ----------------------------------------------------------------------------------------------------------
def test_new_matches_send_one_message_each_and_never_again(
    settings: Settings, backend: EmbeddedBackend, webhook: Webhook, smtp: tuple[Mailbox, str]
) -> None:
    box, mail_url = smtp
    sub_hook = subscription(backend, "人工智能 芯片", [webhook.url()])
    sub_mail = subscription(backend, "芯片", [mail_url])
    docs = [article("a1", *CHIP_1), article("a2", *CHIP_2), article("a3", *OTHER)]
    ids = backend.upsert(docs).new

    summary = run_alerts(settings, ids, backend=backend, options=FAST)
    assert summary["sent"] == 4 and summary["failed"] == 0
    assert sorted(_titles(webhook)) == sorted(f"【芯片动态】{t}" for t, _ in (CHIP_1, CHIP_2))
    assert len(box.messages) == 2
    assert {s.split("】", 1)[1] for s in _mail_subjects(box)} == {CHIP_1[0], CHIP_2[0]}

    # the idempotency key travels with every message: JSON field, header, body text
    for rec in webhook.received:
        key = rec["json"]["delivery_id"]
        assert rec["headers"]["X-Techscout-Delivery"] == key
        assert key in rec["json"]["message"]
        assert backend.get_record("deliveries", key)["state"] == "sent"
    assert {r["json"]["delivery_id"] for r in webhook.received} == {
        delivery_id(sub_hook["id"], "a1"),
        delivery_id(sub_hook["id"], "a2"),
    }
    mail = message_from_bytes(box.messages[0])
    assert mail["X-Techscout-Delivery"] in {delivery_id(sub_mail["id"], d) for d in ("a1", "a2")}
    parts = {
        p.get_content_type(): p.get_payload(decode=True).decode("utf-8")
        for p in mail.walk()
        if not p.is_multipart()
    }
    assert "text/html" in parts and "text/plain" in parts
    assert "来源" in parts["text/html"] and "https://news.example.cn/" in parts["text/html"]
    assert "<mark>芯片</mark>" in parts["text/html"]

    # running again (the same ids, or everything since the last run) sends nothing
    again = run_alerts(settings, ids, backend=backend, options=FAST)
    assert again["sent"] == 0 and again["already"] == 4
    run_alerts(settings, None, backend=backend, options=FAST)
    assert len(webhook.received) == 2 and len(box.messages) == 2


def test_reprint_in_the_same_cluster_does_not_alert_again(
    settings: Settings, backend: EmbeddedBackend, webhook: Webhook
) -> None:
    subscription(backend, "人工智能芯片", [webhook.url()])
    ids = backend.upsert([article("orig", *CHIP_1, cluster_id="c-1")]).new
    run_alerts(settings, ids, backend=backend, options=FAST)
    assert len(webhook.received) == 1
    reprint = article("reprint", CHIP_1[0] + "（转载）", CHIP_1[1], cluster_id="c-1", source="other-site")
    ids = backend.upsert([reprint]).new
    summary = run_alerts(settings, ids, backend=backend, options=FAST)
    assert summary["already"] == 1 and summary["sent"] == 0
    assert len(webhook.received) == 1
    # two copies of one story arriving together also make one message
    twins = [article("t1", *CHIP_2, cluster_id="c-2"), article("t2", *CHIP_2, cluster_id="c-2", source="x")]
    run_alerts(settings, backend.upsert(twins).new, backend=backend, options=FAST)
    assert len(webhook.received) == 2


def test_receiver_that_fails_twice_then_recovers_gets_the_message_once(
    settings: Settings, backend: EmbeddedBackend, webhook: Webhook
) -> None:
    sub = subscription(backend, "芯片", [webhook.url()])
    webhook.fail_next = 2
    sleeps: list[float] = []
    opts = RunOptions(tries=3, backoff=0.01, sleep=sleeps.append)
    summary = run_alerts(
        settings, backend.upsert([article("a1", *CHIP_1)]).new, backend=backend, options=opts
    )
    assert summary["sent"] == 1
    assert webhook.requests == 3 and len(webhook.received) == 1
    assert sleeps == [0.01, 0.02]  # exponential backoff
    record = backend.get_record("deliveries", delivery_id(sub["id"], "a1"))
    assert record["state"] == "sent" and record["attempts"] == 3


def test_failed_delivery_is_visible_and_retryable(
    settings: Settings, backend: EmbeddedBackend, webhook: Webhook
) -> None:
    sub = subscription(backend, "芯片", [webhook.url()])
    webhook.fail_next = 2
    now = datetime.now(UTC)
    one_try = RunOptions(tries=1, backoff=0.0)
    summary = run_alerts(
        settings, backend.upsert([article("a1", *CHIP_1)]).new, backend=backend, now=now, options=one_try
    )
    assert summary["failed"] == 1
    did = delivery_id(sub["id"], "a1")
    record = backend.get_record("deliveries", did)
    assert record["state"] == "failed" and f"127.0.0.1:{webhook.port}" in record["error"]
    assert record["next_attempt"] > _iso(now)
    # not due yet: a run does not resend it
    run_alerts(settings, [], backend=backend, now=now, options=one_try)
    assert webhook.requests == 1
    # due: the next run resends it (fails again), then `retry` sends it at once
    run_alerts(settings, [], backend=backend, now=now + timedelta(hours=1), options=one_try)
    assert webhook.requests == 2 and backend.get_record("deliveries", did)["state"] == "failed"
    result = retry_deliveries(settings, backend=backend, options=one_try)
    assert result["sent"] == 1 and len(webhook.received) == 1
    assert backend.get_record("deliveries", did)["state"] == "sent"
    assert retry_deliveries(settings, backend=backend, options=one_try)["resent"] == 0


class Crash(Exception):
    pass


def test_crash_mid_delivery_resends_at_most_the_in_flight_message(
    settings: Settings, backend: EmbeddedBackend, webhook: Webhook
) -> None:
    subscription(backend, "芯片", [webhook.url()])
    calls = {"n": 0}

    def crash_after_second_send(*args: Any, **kw: Any) -> channels.Attempt:
        outcome = channels.send_once(*args, **kw)
        calls["n"] += 1
        if calls["n"] == 2:
            raise Crash  # sent, but the process dies before writing "sent"
        return outcome

    docs = [article(f"d{i}", f"芯片新闻第{i}条", f"第{i}条关于芯片的报道。") for i in range(4)]
    ids = backend.upsert(docs).new
    with pytest.raises(Crash):
        run_alerts(
            settings, ids, backend=backend, options=RunOptions(tries=1, sender=crash_after_second_send)
        )
    states = [r["state"] for r in backend.list_records("deliveries", limit=100)]
    assert sorted(states) == ["pending", "pending", "pending", "sent"]  # written pending before sending
    run_alerts(settings, ids, backend=backend, options=FAST)
    keys = [r["json"]["delivery_id"] for r in webhook.received]
    assert len(set(keys)) == 4  # none lost
    assert len(keys) == 5  # only the in-flight one twice
    assert {r["state"] for r in backend.list_records("deliveries", limit=100)} == {"sent"}


# ----------------------------------------------------------------------------------------------------------
# watermark, filters, preview
# ----------------------------------------------------------------------------------------------------------
def test_new_subscription_starts_from_now_and_previews_history(
    settings: Settings, backend: EmbeddedBackend, webhook: Webhook
) -> None:
    old = datetime.now(UTC) - timedelta(days=3)
    backend.upsert([article("h1", *CHIP_1, fetched=old), article("h2", *CHIP_2, fetched=old)])
    sub = subscription(backend, "芯片", [webhook.url()], created=datetime.now(UTC) - timedelta(seconds=1))
    summary = run_alerts(settings, None, backend=backend, options=FAST)
    assert summary["sent"] == 0 and webhook.received == []
    hits = preview(settings, sub, 5, backend=backend)
    assert {h.id for h in hits} == {"h1", "h2"}
    # a document stored after the subscription alerts, found by the "since the last run" scan
    backend.upsert([article("n1", "芯片设计大赛开幕", "全国芯片设计大赛今天开幕。")])
    assert run_alerts(settings, None, backend=backend, options=FAST)["sent"] == 1
    assert _titles(webhook) == ["【芯片动态】芯片设计大赛开幕"]
    # a material revision of a document is considered again; a match is sent once
    backend.upsert([article("h3", *OTHER)])
    run_alerts(settings, None, backend=backend, options=FAST)
    backend.upsert([article("h3", OTHER[0] + "：兼谈芯片育种", OTHER[1] + "研究者用芯片技术加快育种。")])
    assert run_alerts(settings, None, backend=backend, options=FAST)["sent"] == 1
    assert len(webhook.received) == 2


def test_filters_and_relevance_floor(settings: Settings, backend: EmbeddedBackend, webhook: Webhook) -> None:
    subscription(
        backend,
        "芯片",
        [webhook.url()],
        filters={"region": ["陕西"], "domains": ["电子信息"], "type": ["成果"]},
        min_relevance=0.5,
    )
    kind = {"content_type": "achievement"}
    docs = [
        article("ok", *CHIP_1, region="陕西省", domains=["电子信息", "装备制造"], relevance=0.9, **kind),
        article("region", *CHIP_1, region="广东省", domains=["电子信息"], relevance=0.9, **kind),
        article("domain", *CHIP_1, region="陕西省", domains=["新材料"], relevance=0.9, **kind),
        article("weak", *CHIP_1, region="陕西省", domains=["电子信息"], relevance=0.2, **kind),
        article("type", *CHIP_1, region="陕西省", domains=["电子信息"], relevance=0.9, content_type="news"),
    ]
    run_alerts(settings, backend.upsert(docs).new, backend=backend, options=FAST)
    assert [r["json"]["delivery_id"] for r in webhook.received] == [
        delivery_id(backend.list_records("subscriptions")[0]["id"], "ok")
    ]


def test_disabled_subscriptions_and_records_of_older_versions(
    settings: Settings, backend: EmbeddedBackend, webhook: Webhook
) -> None:
    on = subscription(backend, "芯片", [webhook.url()])
    off = subscription(backend, "芯片", [webhook.url("/off")], enabled=False)
    assert off["enabled"] is False
    # a record an older version wrote without a creation time: it gets its watermark on the next run, once
    legacy = {k: v for k, v in on.items() if k != "created"} | {"id": "legacy"}
    backend.put_record("subscriptions", "legacy", legacy)
    run_alerts(settings, [], backend=backend, options=FAST)
    stamped = backend.get_record("subscriptions", "legacy")["created"]
    run_alerts(settings, [], backend=backend, options=FAST)
    assert backend.get_record("subscriptions", "legacy")["created"] == stamped
    run_alerts(settings, backend.upsert([article("a1", *CHIP_1)]).new, backend=backend, options=FAST)
    assert sorted(r["path"] for r in webhook.received) == ["/hook", "/hook"]  # on and legacy; not off


# ----------------------------------------------------------------------------------------------------------
# digests
# ----------------------------------------------------------------------------------------------------------
def test_digest_collects_the_days_matches_into_one_message(
    settings: Settings, backend: EmbeddedBackend, webhook: Webhook, smtp: tuple[Mailbox, str]
) -> None:
    box, mail_url = smtp
    day1 = datetime(2024, 5, 2, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai
    subscription(
        backend, "芯片", [webhook.url(), mail_url], mode="digest", digest_at="daily@08:00", created=day1
    )
    docs = [
        article(f"d{i}", f"芯片消息{i}", f"关于芯片的第{i}条消息。", fetched=day1 + timedelta(hours=i))
        for i in (1, 2, 3)
    ]
    ids = backend.upsert(docs).new
    first = run_alerts(settings, ids, backend=backend, now=day1 + timedelta(hours=4), options=FAST)
    assert first["queued"] == 3 and webhook.received == [] and box.messages == []
    # before 08:00 the next day: still nothing
    run_alerts(settings, [], backend=backend, now=datetime(2024, 5, 2, 23, 30, tzinfo=UTC), options=FAST)
    assert webhook.received == []
    # at 08:05 Shanghai the next day: one message with all three
    at = datetime(2024, 5, 3, 0, 5, tzinfo=UTC)
    summary = run_alerts(settings, [], backend=backend, now=at, options=FAST)
    assert summary["digests"] == 1
    assert len(webhook.received) == 1 and len(box.messages) == 1
    body = webhook.received[0]["json"]["message"]
    assert all(f"芯片消息{i}" in body for i in (1, 2, 3)) and "共 3 条" in body
    assert "汇总" in _mail_subjects(box)[0]
    assert {r["state"] for r in backend.list_records("deliveries", limit=100)} == {"sent"}
    run_alerts(settings, [], backend=backend, now=at + timedelta(hours=1), options=FAST)
    assert len(webhook.received) == 1


def test_digest_schedule() -> None:
    assert parse_digest_at("daily@08:00") == (None, 8, 0)
    assert parse_digest_at("weekly@mon 07:30") == (0, 7, 30)
    assert parse_digest_at("18:15") == (None, 18, 15)
    with pytest.raises(SubscriptionError):
        parse_digest_at("monthly@1 08:00")
    wed = datetime(2024, 5, 8, 2, 0, tzinfo=UTC)  # Wednesday 10:00 Shanghai
    assert digest_slot("daily@08:00", wed).isoformat() == "2024-05-08T08:00:00+08:00"
    assert digest_slot("daily@11:00", wed).isoformat() == "2024-05-07T11:00:00+08:00"
    assert digest_slot("weekly@mon 08:00", wed).isoformat() == "2024-05-06T08:00:00+08:00"
    assert digest_slot("weekly@wed 11:00", wed).isoformat() == "2024-05-01T11:00:00+08:00"


# ----------------------------------------------------------------------------------------------------------
# needs ↔ achievements
# ----------------------------------------------------------------------------------------------------------
def test_achievement_matching_a_need_notifies_with_the_matched_terms(
    settings: Settings, backend: EmbeddedBackend, webhook: Webhook
) -> None:
    need = {
        "id": "problem-1",
        "library": "problem",
        "name": "寻求废旧锂电池正极材料回收技术",
        "need": "我公司需要高效的废旧锂电池正极材料回收工艺，要求钴镍回收率高于95%。",
        "domains": ["新能源"],
        "doc_ids": ["need-doc"],
    }
    backend.put_record("entries", need["id"], need)
    backend.put_record("meta", CONFIG_ID, {"id": CONFIG_ID, "need_notify": [webhook.url("/needs")]})
    terms = need_terms(need)
    assert "锂电池" in terms and "回收" in terms
    fit = article(
        "ach",
        "废旧锂电池正极材料高效回收技术成果发布",
        "某研究院研发的锂电池回收工艺可从正极材料中回收钴镍，回收率达98%。",
        libraries=["project"],
        domains=["新能源"],
        content_type="achievement",
    )
    news = article("news", "锂电池产业新闻", "锂电池回收行业会议召开，讨论正极材料价格。", domains=["新能源"])
    unrelated = article("ach2", "新型小麦育种技术", "小麦育种成果。", libraries=["project"])
    run_alerts(settings, backend.upsert([fit, news, unrelated]).new, backend=backend, options=FAST)
    assert len(webhook.received) == 1
    msg = webhook.received[0]["json"]["message"]
    assert "废旧锂电池正极材料高效回收技术成果发布" in msg and "匹配词" in msg and "锂电池" in msg
    # an owner with a channel of its own is notified there instead
    backend.put_record("entries", "problem-2", {**need, "id": "problem-2", "owner": webhook.url("/owner")})
    run_alerts(settings, [], backend=backend, options=FAST)
    run_alerts(settings, ["ach"], backend=backend, options=FAST)
    assert [r["path"] for r in webhook.received] == ["/needs", "/owner"]


# ----------------------------------------------------------------------------------------------------------
# the in-process matcher gives the backend's answer
# ----------------------------------------------------------------------------------------------------------
def test_matcher_agrees_with_backend_search(tmp_path: Path) -> None:
    rows = [
        json.loads(line) for line in (FIXTURES / "abstracts.jsonl").read_text(encoding="utf-8").splitlines()
    ]
    now = datetime.now(UTC)
    arts = [article(f"s{r['id']}", r["content"][:24], r["content"], fetched=now) for r in rows]
    store = EmbeddedBackend(tmp_path / "m.sqlite")
    store.upsert(arts)
    rng = random.Random(11)
    import jieba

    vocab = sorted({w for r in rows for w in jieba.cut(r["content"]) if w.isalnum()})
    words = [w for w in vocab if len(w) >= 2]
    singles = [w for w in vocab if len(w) == 1 and "\u4e00" <= w <= "\u9fff"]
    latin = [w for w in vocab if w.isascii() and w.isalnum()]
    queries = []
    for _ in range(60):
        a, b, c = rng.sample(words, 3)
        queries += [
            a,
            f"{a} {b}",
            f"{a} OR {b}",
            f"{a} -{b}",
            f'"{a}{b}"',
            f"{a}{b}",
            f"{a} ({b} OR {c})".replace("(", "").replace(")", ""),
        ]
    for text in (r["content"] for r in rng.sample(rows, 20)):
        start = rng.randrange(0, max(1, len(text) - 8))
        queries.append(f'"{text[start : start + 6].replace(chr(34), "")}"')
        queries.append(text[start : start + 5])
    queries += singles[:10] + latin[:10] + ["", "-的", "NOT 研究"]
    ids = [a.id for a in arts]
    matcher = Matcher(store.get_many(ids))
    total_hits = 0
    for q in queries:
        sub = stored_subscription({"id": "q", "query": q})
        expected = set(naive_match(store, sub, ids))
        got = {a.id for a in matcher.match(sub)}
        assert got == expected, q
        total_hits += len(got)
    assert total_hits > 200  # the queries do find documents
    store.close()


# ----------------------------------------------------------------------------------------------------------
# URLs, CLI
# ----------------------------------------------------------------------------------------------------------
def test_delivery_urls_carry_the_delivery_id_timeouts_and_no_redirects() -> None:
    url = channels.url_for_delivery("json://h.example/p?x=1", "abc")
    assert "X-Techscout-Delivery=abc" in url and ":delivery_id=abc" in url and "x=1" in url
    assert "redirect=no" in url and f"rto={channels.READ_TIMEOUT}" in url and f"cto={channels.CONNECT_TIMEOUT}" in url
    ding = channels.url_for_delivery("dingtalk://abc123/", "abc")
    assert "X-Techscout" not in ding and "redirect=no" in ding
    with pytest.raises(SubscriptionError):
        validate_subscription({"name": "x", "query": "a", "notify": ["http://example.com/"],
                               "filters": {"colour": ["red"]}}, owner="", allow_private=False)


def test_cli_add_list_run_log(tmp_path: Path, webhook: Webhook) -> None:
    env = {"TECHSCOUT_ALLOW_PRIVATE_URLS": "1"}
    data = tmp_path / "data"
    out = run_cli(
        "alerts",
        "add",
        "--name",
        "芯片",
        "--query",
        "芯片",
        "--type",
        "news",
        "--notify",
        webhook.url(),
        "--digest",
        "weekly@mon 08:00",
        data=data,
        env=env,
    )
    assert out.returncode == 0, out.stderr
    listed = run_cli("alerts", "list", "--json", data=data, env=env)
    subs = json.loads(listed.stdout)
    assert subs[0]["filters"] == {"content_type": ["news"]} and subs[0]["digest_at"] == "weekly@mon 08:00"
    bad = run_cli("alerts", "add", "--name", "x", "--query", "芯片", "--notify", webhook.url(), data=data)
    assert bad.returncode == 2 and "allow_private_urls" in bad.stderr and "本机地址" in bad.stderr
    ran = run_cli("alerts", "run", "--json", data=data, env=env)
    assert ran.returncode == 0 and json.loads(ran.stdout)["subscriptions"] == 1
    log = run_cli("alerts", "log", "--json", data=data, env=env)
    assert json.loads(log.stdout) == []


def test_the_cli_and_the_api_body_make_the_same_record(tmp_path: Path, webhook: Webhook) -> None:
    """`techscout alerts add` and a JSON body as the API takes it go through the same validation."""
    env = {"TECHSCOUT_ALLOW_PRIVATE_URLS": "1"}
    data = tmp_path / "data"
    out = run_cli("alerts", "add", "--name", "政策 芯片", "--query", "芯片 -华为", "--type", "政策", "--type", "成果",
                  "--region", "陕西", "--library", "项目库", "--scitech", "科技相关", "--notify", webhook.url(),
                  "--digest", "weekly@mon 7:30", "--id", "chips-1", "--json", data=data, env=env)
    assert out.returncode == 0, out.stderr
    from_cli = json.loads(out.stdout)["subscription"]
    body = {
        "id": "chips-1",
        "name": "政策 芯片",
        "query": "芯片 -华为",
        "filters": {"type": ["政策", "成果"], "region": ["陕西"], "library": ["项目库"], "scitech": ["科技相关"]},
        "notify": [webhook.url()],
        "mode": "digest",
        "digest_at": "weekly@mon 7:30",
    }
    from_api = validate_subscription(body, owner="", allow_private=True)
    volatile = ("created", "updated")
    assert {k: v for k, v in from_cli.items() if k not in volatile} == {
        k: v for k, v in from_api.items() if k not in volatile
    }
    assert from_api["filters"] == {
        "content_type": ["policy", "achievement"],
        "region": ["陕西省"],
        "libraries": ["project"],
        "scitech_relevant": ["true"],
    }
    assert from_api["digest_at"] == "weekly@mon 07:30" and from_api["notify"][0].startswith("json://")


@pytest.mark.parametrize(
    ("field", "body"),
    [
        ("name", {"name": ""}),
        ("name", {"name": "长" * 101}),
        ("id", {"id": "a/b"}),
        ("query", {"query": '"未闭合'}),
        ("filters", {"filters": {"type": ["不存在"]}}),
        ("filters", {"filters": {"colour": ["red"]}}),
        ("min_relevance", {"min_relevance": 2}),
        ("notify", {"notify": []}),
        ("notify", {"notify": ["http://example.com:99999/"]}),
        ("notify", {"notify": ["http://[::1"]}),
        ("notify", {"notify": ["http://exa mple.com/"]}),
        ("notify", {"notify": ["ntfy://example.com/t"]}),
        ("mode", {"mode": "sometimes"}),
        ("digest_at", {"mode": "digest", "digest_at": "25:00"}),
        ("digest_at", {"mode": "digest", "digest_at": "monthly@1 08:00"}),
        ("enabled", {"enabled": "maybe"}),
    ],
)
def test_each_rule_names_its_field(field: str, body: dict[str, Any]) -> None:
    data = {"name": "芯片", "query": "芯片", "notify": ["https://hooks.example.com/x"], **body}
    with pytest.raises(SubscriptionError) as err:
        validate_subscription(data, owner="li", allow_private=False)
    assert err.value.field == field  # type: ignore[attr-defined]
    assert f"（{field}）" in str(err.value)


def test_the_creation_time_is_set_and_kept_on_edit() -> None:
    first = validate_subscription({"name": "a", "notify": ["https://hooks.example.com/x"]}, owner="li",
                                  allow_private=False, now=datetime(2026, 1, 1, 10, 0, tzinfo=UTC))
    assert first["created"] == "2026-01-01T10:00:00+00:00"
    edited = validate_subscription({"name": "b", "notify": ["https://hooks.example.com/x"]}, owner="wang",
                                   allow_private=False, existing=first)
    assert edited["created"] == first["created"] and edited["id"] == first["id"] and edited["owner"] == "li"
