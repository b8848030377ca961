"""Delivery channels against real local receivers: DingTalk, WeCom and Feishu bot APIs (Apprise's own plugins
pointed at local servers that answer as those services do, rate limits included), a receiver that hangs, a
redirect to loopback, DNS answers that point at this machine, and a bad stored URL among good ones."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from core import netguard
from core.errors import SubscriptionError
from core.items import Article
from core.settings import Settings, load_settings
from pipelines.normalize import normalize_text
from search.alerts import RunOptions, channels, run_alerts, save_subscription, validate_subscription
from search.backends.embedded import EmbeddedBackend

FAST = RunOptions(tries=3, backoff=0.01)


class Receiver:
    """A local HTTP server; ``answer(path, body) -> (status, headers, json)`` decides each reply."""

    def __init__(self, answer: Any = None) -> None:
        self.requests: list[dict[str, Any]] = []
        self.answer = answer or (lambda path, body: (200, {}, {"ok": True}))
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = raw.decode("utf-8", "replace")
                outer.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
                status, headers, payload = outer.answer(self.path, body)
                data = json.dumps(payload, ensure_ascii=False).encode()
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(data=tmp_path / "data", env={}, allow_private_urls=True)


@pytest.fixture
def backend(settings: Settings) -> Iterator[EmbeddedBackend]:
    store = EmbeddedBackend.from_settings(settings)
    yield store
    store.close()


def article(doc_id: str, title: str) -> Article:
    text = f"{title}。科研团队发布了新型芯片，性能显著提升。"
    return Article(
        id=doc_id,
        url=f"https://news.example.cn/{doc_id}.html",
        source="example-news",
        fetched=datetime.now(UTC).isoformat(timespec="seconds"),
        title=title,
        text=text,
        search_title=normalize_text(title),
        search_text=normalize_text(text),
        published="2024-05-02T09:00:00+08:00",
    )


def subscribe(backend: EmbeddedBackend, urls: list[str], name: str = "芯片", allow_private: bool = True) -> dict[str, Any]:
    created = datetime.now(UTC) - timedelta(seconds=5)
    record = validate_subscription(
        {"name": name, "query": "芯片", "notify": urls}, owner="li", allow_private=allow_private, now=created
    )
    return save_subscription(backend, record)


# -- IM bots -------------------------------------------------------------------------------------------------------
def _bot(kind: str, limited_first: int) -> tuple[Receiver, list[int]]:
    """A receiver answering as DingTalk / WeCom / Feishu do: HTTP 200 with a code; rate-limited ``limited_first``
    times first."""
    left = [limited_first]

    def answer(path: str, body: Any) -> tuple[int, dict[str, str], dict[str, Any]]:
        if left[0] > 0:
            left[0] -= 1
            return 200, {}, {
                "dingtalk": {"errcode": 130101, "errmsg": "send too fast, exceed 20 times per minute"},
                "wecom": {"errcode": 45009, "errmsg": "api freq out of limit"},
                "feishu": {"code": 11232, "msg": "frequency limited", "data": {}},
            }[kind]
        if kind == "feishu":
            return 200, {}, {"code": 0, "msg": "success", "data": {}}
        return 200, {}, {"errcode": 0, "errmsg": "ok"}

    return Receiver(answer), left


@pytest.fixture
def bots(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Receiver]]:
    """Apprise's own DingTalk, WeCom and Feishu plugins, pointed at local servers (their API URL is a class
    attribute each plugin formats its request URL from)."""
    from apprise.plugins.dingtalk import NotifyDingTalk
    from apprise.plugins.feishu import NotifyFeishu
    from apprise.plugins.wecombot import NotifyWeComBot

    made = {k: _bot(k, 1)[0] for k in ("dingtalk", "wecom", "feishu")}
    monkeypatch.setattr(NotifyDingTalk, "notify_url", made["dingtalk"].base + "/robot/send?access_token={token}")
    monkeypatch.setattr(NotifyWeComBot, "notify_url", made["wecom"].base + "/cgi-bin/webhook/send?key={key}")
    monkeypatch.setattr(NotifyFeishu, "notify_url", made["feishu"].base + "/open-apis/bot/v2/hook/{token}/")
    yield made
    for r in made.values():
        r.stop()


NATIVE = {
    "dingtalk": "https://oapi.dingtalk.com/robot/send?access_token=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
    "wecom": "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=693a91f6-7xxx-4bc4-97a0-0ec2sifa5aaa",
    "feishu": "https://open.feishu.cn/open-apis/bot/v2/hook/0c6ab1d2-3e4f-4a5b-9c8d-7e6f5a4b3c2d",
}


def test_bot_webhook_urls_are_stored_as_apprise_urls() -> None:
    stored = [channels.normalize_url(u, allow_private=False) for u in NATIVE.values()]
    assert stored == [
        "dingtalk://0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef/",
        "wecombot://693a91f6-7xxx-4bc4-97a0-0ec2sifa5aaa",
        "feishu://0c6ab1d2-3e4f-4a5b-9c8d-7e6f5a4b3c2d/",
    ]
    assert channels.normalize_url("https://hooks.example.com/x?a=1", allow_private=False) == "jsons://hooks.example.com/x?a=1"


def test_each_im_bot_gets_one_message_after_its_rate_limit_answer(
    settings: Settings, backend: EmbeddedBackend, bots: dict[str, Receiver]
) -> None:
    sub = subscribe(backend, list(NATIVE.values()))
    sleeps: list[float] = []
    opts = RunOptions(tries=3, backoff=0.01, sleep=sleeps.append)
    summary = run_alerts(settings, backend.upsert([article("a1", "新型芯片发布")]).new, backend=backend, options=opts)
    assert summary["sent"] == 1 and summary["failed"] == 0
    for kind, bot in bots.items():
        assert len(bot.requests) == 2, kind  # the rate-limited attempt, then the accepted one
        body = json.dumps(bot.requests[-1]["body"], ensure_ascii=False)
        assert "新型芯片发布" in body and "投递编号" in body, kind
    token = NATIVE["dingtalk"].rsplit("=", 1)[1]
    assert parse_qs(urlsplit(bots["dingtalk"].requests[0]["path"]).query)["access_token"] == [token]
    assert len(sleeps) == 3  # one backoff per bot, each within its own receiver's thread
    record = backend.list_records("deliveries")[0]
    assert record["state"] == "sent" and record["subscription"] == sub["id"]
    run_alerts(settings, ["a1"], backend=backend, options=opts)  # already delivered: nothing more
    assert [len(b.requests) for b in bots.values()] == [2, 2, 2]


def test_a_bot_that_keeps_rate_limiting_fails_with_its_answer(
    settings: Settings, backend: EmbeddedBackend, bots: dict[str, Receiver]
) -> None:
    bots["dingtalk"].answer = lambda path, body: (200, {}, {"errcode": 130101, "errmsg": "send too fast"})
    subscribe(backend, [NATIVE["dingtalk"]])
    summary = run_alerts(settings, backend.upsert([article("a1", "芯片")]).new, backend=backend, options=FAST)
    assert summary["failed"] == 1 and len(bots["dingtalk"].requests) == 3
    record = backend.list_records("deliveries")[0]
    assert record["state"] == "failed" and "130101" in record["error"] and "限流" in record["error"]
    assert "0123456789abcdef" not in record["error"]  # the token is not shown


# -- receivers that hang, redirect, or are reached through DNS ------------------------------------------------------
def test_a_hanging_receiver_does_not_hold_up_the_others(
    settings: Settings, backend: EmbeddedBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(channels, "READ_TIMEOUT", 6.0)
    fast_got_it = threading.Event()
    seen_while_hanging: list[bool] = []
    fast = Receiver(lambda path, body: (fast_got_it.set(), (200, {}, {}))[1])

    def hang(path: str, body: Any) -> tuple[int, dict[str, str], dict[str, Any]]:
        # holds the request until the other receiver has its message (or 5 s, inside the client's timeout)
        seen_while_hanging.append(fast_got_it.wait(5.0))
        return 200, {}, {}

    slow = Receiver(hang)
    try:
        subscribe(backend, [slow.base + "/hook"], name="慢")  # created first: its delivery is queued first
        subscribe(backend, [fast.base + "/hook"], name="快")
        summary = run_alerts(settings, backend.upsert([article("a1", "芯片")]).new, backend=backend, options=FAST)
        assert summary["sent"] == 2
        assert seen_while_hanging == [True]  # the fast receiver got its message while the slow one held its request
    finally:
        fast.stop()
        slow.stop()


def test_redirects_are_not_followed(settings: Settings, backend: EmbeddedBackend) -> None:
    target = Receiver()
    bouncer = Receiver(lambda path, body: (307, {"Location": target.base + "/internal"}, {}))
    try:
        subscribe(backend, [bouncer.base + "/hook"])
        summary = run_alerts(settings, backend.upsert([article("a1", "芯片")]).new, backend=backend, options=FAST)
        assert summary["failed"] == 1 and target.requests == []
        record = backend.list_records("deliveries")[0]
        assert "跳转" in record["error"] and "307" in record["error"]
    finally:
        target.stop()
        bouncer.stop()


@pytest.fixture
def resolver() -> Iterator[dict[str, list[str]]]:
    answers: dict[str, list[str]] = {}
    calls: list[str] = []

    def resolve(host: str, port: int) -> list[str]:
        calls.append(host)
        if host not in answers:
            raise OSError("no such name")
        return answers[host]

    previous = netguard.set_resolver(resolve)
    answers["__calls__"] = calls  # type: ignore[assignment]
    yield answers
    netguard.set_resolver(previous)


def test_the_address_checked_is_the_address_connected_to(
    settings: Settings, backend: EmbeddedBackend, resolver: dict[str, list[str]]
) -> None:
    receiver = Receiver()
    try:
        # saved while the name pointed elsewhere (public); at send time it points at this machine
        resolver["hooks.example.net"] = ["93.184.216.34"]
        subscribe(backend, [f"http://hooks.example.net:{receiver.port}/hook"], allow_private=False)
        resolver["hooks.example.net"] = ["127.0.0.1"]
        strict = load_settings(data=settings.data, env={}, allow_private_urls=False)
        summary = run_alerts(strict, backend.upsert([article("a1", "芯片")]).new, backend=backend, options=FAST)
        assert summary["failed"] == 1 and receiver.requests == []  # blocked at the connection, nothing sent
        record = backend.list_records("deliveries")[0]
        assert "本机地址" in record["error"] and "hooks.example.net" in record["error"]
        # allowed, the connection goes to the guard's answer: there is no other DNS for this name
        summary = run_alerts(settings, [], backend=backend, now=datetime.now(UTC) + timedelta(hours=1), options=FAST)
        assert summary["sent"] == 1 and len(receiver.requests) == 1
    finally:
        receiver.stop()


def test_a_bad_stored_url_fails_its_own_delivery_only(
    settings: Settings, backend: EmbeddedBackend, tmp_path: Path
) -> None:
    good = Receiver()
    try:
        ok = subscribe(backend, [good.base + "/hook"], name="好")
        bad = dict(ok, id="bad", name="坏")
        bad["notify"] = ["http://8.8.8.8:99999/"]  # as a version without the URL check stored it
        backend.put_record("subscriptions", "bad", bad)
        summary = run_alerts(settings, backend.upsert([article("a1", "芯片")]).new, backend=backend, options=FAST)
        assert summary["sent"] == 1 and summary["failed"] == 1 and len(good.requests) == 1
        failed = backend.list_records("deliveries", {"state": "failed"})[0]
        assert failed["subscription"] == "bad" and "65535" in failed["error"]
    finally:
        good.stop()


def test_only_the_promised_channels_are_accepted() -> None:
    for url in ("ntfy://127.0.0.1/topic", "gotify://127.0.0.1/token", "apprise://127.0.0.1/x", "mmost://h/x"):
        with pytest.raises(SubscriptionError, match="不支持"):
            validate_subscription({"name": "x", "notify": [url]}, owner="", allow_private=True)
    for url in ("http://127.0.0.1/x", "mailto://u:p@127.0.0.1?to=a@example.com", "http://[::ffff:127.0.0.1]/",
                "http://2130706433/", "http://100.100.100.200/latest/meta-data"):
        with pytest.raises(SubscriptionError, match="allow_private_urls"):
            validate_subscription({"name": "x", "notify": [url]}, owner="", allow_private=False)
