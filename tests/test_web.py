"""The web UI and the JSON API over a data directory filled by real crawls of the mockserver's saved real pages
(run records with real errors included), subscriptions made through the form and the API and delivered to
real local receivers."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from cli import main as cli_main
from core.settings import Settings, load_settings
from search import users
from search.alerts import RunOptions, run_alerts
from search.backends.embedded import EmbeddedBackend
from search.query import Hit, SearchResult
from search.web import labels
from search.web.app import create_app
from search.web.auth import LoginThrottle, load_secret, read_session, sign_session
from search.web.forms import csv_cell, hits_to_csv, pages_around, query_from_params
from tests.conftest import MockServer, run_cli, write_source
from tests.receivers import Mailbox, Webhook, free_port

PASSWORD = "correct horse 1"
ENV = {"TECHSCOUT_TIMEOUT": "3", "TECHSCOUT_DELAY": "0", "TECHSCOUT_ALLOW_PRIVATE_URLS": "1"}


@pytest.fixture(scope="module")
def crawled(mockserver: MockServer, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data directory after real crawls: the UTF-8 site (404, 500 and robots.txt errors on the way) and a source
    whose server is down (a failed run)."""
    root = tmp_path_factory.mktemp("web-crawl")
    sources = root / "sources"
    write_source(sources, "site-news", title="示例科技网 · 要闻", start_urls=[mockserver.url("utf8", "/news/")],
                 deny=["slow", "/loop/", "calendar", "jsessionid"])
    write_source(sources, "site-down", title="无法访问的网站", start_urls=[f"http://127.0.0.1:{free_port()}/"])
    out = run_cli("crawl", "--sources", str(sources), "--json", data=root / "data", env=ENV)
    assert out.returncode in (0, 1), out.stderr
    return root


@pytest.fixture()
def env(crawled: Path, tmp_path: Path) -> Iterator[tuple[Settings, EmbeddedBackend, Any]]:
    """A copy of the crawled data directory, two users, and the app over it."""
    shutil.copytree(crawled / "data", tmp_path / "data")
    settings = load_settings(data=tmp_path / "data", env={}, sources=str(crawled / "sources"), allow_private_urls=True)
    backend = EmbeddedBackend(settings.paths.store)
    users.add_user(backend, "admin", PASSWORD, "admin")
    users.add_user(backend, "staff", PASSWORD, "staff")
    app = create_app(settings, backend)
    yield settings, backend, app
    backend.close()


def _csrf(html: str) -> str:
    m = re.search(r'name="csrf" value="([0-9a-f]+)"', html)
    assert m, "no CSRF token in the page"
    return m.group(1)


def _login(client: TestClient, name: str = "staff", password: str = PASSWORD) -> Any:
    page = client.get("/login")
    return client.post(
        "/login", data={"name": name, "password": password, "csrf": _csrf(page.text), "next": "/search"},
        follow_redirects=False,
    )


def _client(app: Any, name: str = "staff", address: str = "10.0.0.1") -> TestClient:
    c = TestClient(app, client=(address, 50000))
    assert _login(c, name).status_code == 303
    return c


@pytest.fixture()
def client(env: Any) -> TestClient:
    return _client(env[2])


def _hits(client: TestClient, **params: Any) -> list[dict[str, Any]]:
    r = client.get("/api/search", params={"size": 100, **params})
    assert r.status_code == 200, r.text
    return list(r.json()["hits"])


# -- authentication and sessions ---------------------------------------------------------------------------------
def test_pages_redirect_to_login_and_api_needs_auth(env: Any) -> None:
    c = TestClient(env[2])
    for path in ("/search", "/overview", "/library/talent", "/sources", "/subscriptions", "/docs", "/docs/swagger",
                 "/account"):
        r = c.get(path, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].startswith("/login?next="), path
    for path in ("/api/search", "/api/entries", "/api/subscriptions", "/api/runs", "/api/sources", "/openapi.json"):
        r = c.get(path)
        assert r.status_code == 401 and r.json()["code"] == "unauthorized", path
        assert r.headers["www-authenticate"] == "Bearer"
    assert c.get("/api/search", headers={"Authorization": "Bearer tsk_invalid"}).status_code == 401


def test_logout_and_password_change_end_sessions_on_the_server(env: Any) -> None:
    c = _client(env[2])
    stolen = c.cookies.get("techscout_session")
    page = c.get("/search")
    c.post("/logout", data={"csrf": _csrf(page.text)})
    replay = TestClient(env[2])
    replay.cookies.set("techscout_session", stolen)
    assert replay.get("/search", follow_redirects=False).status_code == 303  # the old cookie is dead
    # a password change ends every other session of the user
    laptop, phone = _client(env[2]), _client(env[2])
    form = {"csrf": _csrf(laptop.get("/account").text), "password": PASSWORD, "new_password": "another pass 2",
            "new_password2": "another pass 2"}
    r = laptop.post("/account/password", data=form)
    assert r.status_code == 200 and "密码已修改" in r.text
    assert phone.get("/search", follow_redirects=False).status_code == 303
    assert laptop.get("/search").status_code == 200  # the browser that changed it stays logged in
    assert _login(TestClient(env[2]), "staff", "another pass 2").status_code == 303


def test_failed_logins_slow_one_client_and_never_lock_the_owner_out(env: Any) -> None:
    attacker = TestClient(env[2], client=("203.0.113.9", 4000))
    statuses = [_login(attacker, "staff", "wrong password").status_code for _ in range(7)]
    assert statuses[:5] == [401] * 5 and 429 in statuses[5:]
    r = _login(attacker, "staff", "wrong password")
    assert r.status_code == 429 and "秒后再试" in r.text
    # the owner, from their own address, logs in at once
    assert _login(TestClient(env[2], client=("198.51.100.7", 4000))).status_code == 303


def test_throttle_table_is_bounded_and_waits_double() -> None:
    now = [1000.0]
    throttle = LoginThrottle(max_keys=100, clock=lambda: now[0])
    for i in range(1000):
        throttle.failed(str(i) + "x" * 100_000, "203.0.113.9")
    assert len(throttle) == 100
    for _ in range(7):
        throttle.failed("staff", "203.0.113.9")
    assert throttle.wait_seconds("staff", "203.0.113.9") == pytest.approx(4.0)
    assert throttle.wait_seconds("staff", "198.51.100.7") == 0.0
    now[0] += 5
    assert throttle.wait_seconds("staff", "203.0.113.9") == 0.0


def test_unknown_names_cost_one_scrypt_like_wrong_passwords(env: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    users._dummy_record()  # made once, at the first unknown name
    calls: list[int] = []
    real = hashlib.scrypt

    def counting(*args: Any, **kwargs: Any) -> bytes:
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(hashlib, "scrypt", counting)
    assert users.authenticate(env[1], "nobody-here", "whatever pw") is None
    unknown = len(calls)
    calls.clear()
    assert users.authenticate(env[1], "staff", "wrong password") is None
    assert unknown == len(calls) == 1


def test_store_and_secret_are_private_and_cookies_signed(env: Any) -> None:
    settings = env[0]
    assert settings.paths.store.stat().st_mode & 0o777 == 0o600
    assert settings.paths.secret.stat().st_mode & 0o777 == 0o600
    secret = load_secret(settings.secret_key, settings.data_dir)
    cookie = sign_session(secret, {"u": "admin", "sid": "x", "n": "x", "exp": 2**40})
    assert read_session(secret, cookie)["u"] == "admin"  # type: ignore[index]
    assert read_session(b"another secret", cookie) is None
    c = TestClient(env[2])
    c.cookies.set("techscout_session", cookie)  # well signed, but no such session on the server
    assert c.get("/search", follow_redirects=False).status_code == 303


# -- the API ------------------------------------------------------------------------------------------------------
def test_api_search_equals_cli_and_parses_values_once(env: Any, client: TestClient,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    data = str(env[0].data_dir)
    title = _hits(client, sort="date")[0]["title"]
    word = re.sub(r"[^\u4e00-\u9fff]", "", title)[:4]
    cases = [
        ([word], {"q": word}),
        (["", "--sort", "date", "--limit", "2", "--page", "2"], {"q": "", "sort": "date", "size": "2", "page": "2"}),
        ([word, "--collapse"], {"q": word, "collapse": "True"}),  # what Python's requests sends for True
        (["", "--limit", "3"], {"size": "3", "page": "1.0"}),
    ]
    for argv, params in cases:
        assert cli_main(["search", *argv, "--json", "--data", data]) == 0
        expected = json.loads(capsys.readouterr().out)
        got = client.get("/api/search", params=params)
        assert got.status_code == 200 and got.json() == expected, params
    assert expected["total"] > 3


def test_api_errors_are_4xx_with_one_shape(client: TestClient) -> None:
    for params, status, code, field in [
        ({"q": "\x00"}, 422, "invalid-request", "q"),
        ({"q": '"unbalanced'}, 400, "query", None),
        ({"page": "0"}, 422, "invalid-request", "page"),
        ({"page": "1.5"}, 422, "invalid-request", "page"),
        ({"size": "1001"}, 422, "invalid-request", "size"),
        ({"type": "成果"}, 422, "invalid-request", "type"),
        ({"since": "2025-13-01"}, 422, "invalid-request", "since"),
        ({"since": "2025-02-01", "until": "2025-01-01"}, 400, "query", "since"),
        ({"collapse": "maybe"}, 422, "invalid-request", "collapse"),
    ]:
        r = client.get("/api/search", params=params)
        body = r.json()
        assert r.status_code == status, (params, body)
        assert set(body) == {"code", "message", "field", "details"} and body["code"] == code, params
        assert body["field"] == field and re.search(r"[\u4e00-\u9fff]", body["message"]), body
    assert client.get("/api/documents/no-such-doc").json()["code"] == "not-found"
    assert client.get("/api/documents/a%2Fb").status_code in (404, 422)
    assert client.get("/search", params={"q": "\x00"}).status_code == 400  # the page says so too


def test_openapi_declares_bearer_bounds_enums_and_errors(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert spec["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http", "scheme": "bearer", "description": spec["components"]["securitySchemes"]["bearerAuth"]["description"]}
    assert {"bearerAuth": []} in spec["security"]
    search = spec["paths"]["/api/search"]["get"]
    params = {p["name"]: p["schema"] for p in search["parameters"]}
    assert params["page"]["minimum"] == 1 and params["size"]["maximum"] == 1000 and params["since"]["format"] == "date"
    assert params["collapse"]["type"] == "boolean"
    types = spec["components"]["schemas"]["ContentType"]
    assert "policy" in types["enum"] and "政策" in types["description"]
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            for status in ("401", "403", "422"):
                assert op["responses"][status]["content"]["application/json"]["schema"] == {
                    "$ref": "#/components/schemas/ErrorBody"}, (path, method, status)
    assert "HTTPValidationError" not in json.dumps(spec)
    sub_in = spec["components"]["schemas"]["SubscriptionIn"]
    assert sub_in["properties"]["name"]["maxLength"] == 100 and "pattern" in sub_in["properties"]["digest_at"]["anyOf"][0]


def test_docs_pages_are_self_hosted_and_curl_example_is_encoded(client: TestClient) -> None:
    page = client.get("/docs").text
    for path in ("/api/search", "/api/documents/{doc_id}", "/api/subscriptions", "/api/runs", "/api/sources"):
        assert f"<code>{path}</code>" in page, path
    m = re.search(r"curl -H \"Authorization: Bearer \$TOKEN\" '([^']+)'", page)
    assert m and "%E4%BA%BA%E5%B7%A5%E6%99%BA%E8%83%BD" in m.group(1) and re.fullmatch(r"[\x21-\x7e]+", m.group(1))
    swagger = client.get("/docs/swagger")
    assert swagger.status_code == 200 and "cdn" not in swagger.text.lower()
    assert "script-src 'self'" in swagger.headers["content-security-policy"]
    for asset in re.findall(r'(?:src|href)="(/docs/swagger/[^"]+)"', swagger.text):
        assert client.get(asset).status_code == 200, asset
    assert TestClient(client.app).get("/docs/swagger/swagger-ui-bundle.js", follow_redirects=False).status_code == 303


# -- pages --------------------------------------------------------------------------------------------------------
def test_search_page_facets_relevance_dates_and_traditional_script(client: TestClient) -> None:
    hit = _hits(client, sort="date")[0]
    word = re.sub(r"[^\u4e00-\u9fff]", "", hit["title"])[:2]
    page = client.get("/search", params={"q": word}).text
    assert "<mark>" in page and 'data-facet="scitech"' in page and "只看科技相关" in page
    assert 'placeholder="2025-01-01"' in page and 'type="date"' not in page
    import opencc

    traditional = opencc.OpenCC("s2t").convert(word)
    assert _hits(client, q=traditional) == _hits(client, q=word)
    relevant = _hits(client, scitech="true")
    assert all(client.get(f"/api/documents/{h['id']}").json()["scitech_relevant"] for h in relevant)


def test_csv_export_neutralises_formulas(client: TestClient) -> None:
    assert [csv_cell(v) for v in ("=HYPERLINK(\"x\")", "+1", "-2", "@SUM(A1)", "\tx", "\rx", "普通标题", -3, "-3.5")] == [
        "'=HYPERLINK(\"x\")", "'+1", "'-2", "'@SUM(A1)", "'\tx", "'\rx", "普通标题", "-3", "'-3.5"]
    hit = Hit(id="d1", url="https://a.example.cn/1.html", title="=cmd|' /C calc'!A0", published=None, source="s",
              snippet="", score=1.0)
    assert "\"'=cmd|' /C calc'!A0\"" in hits_to_csv(SearchResult(total=1, hits=[hit])) or \
        "'=cmd|' /C calc'!A0" in hits_to_csv(SearchResult(total=1, hits=[hit]))
    r = client.get("/search/export.csv", params={"q": ""})
    assert r.status_code == 200 and r.text.lstrip("\ufeff").startswith("id,title")
    assert len(r.text.strip().splitlines()) > 3


def test_document_page_in_chinese_with_consistent_reprints(client: TestClient) -> None:
    for hit in _hits(client)[:8]:
        page = client.get(f"/doc/{hit['id']}").text
        assert "北京时间" in page  # the fetch time, in Asia/Shanghai, zone shown
        assert not re.search(r"转载（1）", page)
        if "没有发现转载" in page:
            assert "另有" not in page.split('id="cluster"')[1].split("</section>")[0]
        for raw in ("relevance</dt>", "rules:", "content_type:", ">domains<", ">region<"):
            assert raw not in page, (hit["id"], raw)
    assert client.get("/doc/nope").status_code == 404


def test_libraries_say_what_fills_them(client: TestClient) -> None:
    for library in ("problem", "project", "talent"):
        page = client.get(f"/library/{library}")
        assert page.status_code == 200
        if "暂无条目" in page.text:
            assert labels.LIBRARY_NOTES[library][:10] in page.text
    assert client.get("/library/nothing").status_code == 404
    assert client.get("/library/talent", params={"page": "abc"}).status_code == 422


def test_sources_page_renders_real_runs_with_errors(client: TestClient, env: Any) -> None:
    runs = env[1].list_records("runs", limit=10)
    news = next(r for r in runs if r["source"] == "site-news")
    down = next(r for r in runs if r["source"] == "site-down")
    assert news["errors"] and news["error_examples"] and down["status"] == "failed"
    page = client.get("/sources")
    assert page.status_code == 200
    text = page.text
    assert "示例科技网 · 要闻" in text and "每 6 小时" in text and "失败" in text
    for kind in news["errors"]:
        assert labels.error_kind(kind) in text
    some_url = next(iter(news["error_examples"].values()))[0]
    assert some_url in text
    assert "北京时间" in text and "立即抓取" not in text  # staff cannot start crawls
    r = client.post("/sources/site-down/crawl", data={"csrf": _csrf(text)}, follow_redirects=False)
    assert r.status_code == 403
    api = client.get("/api/sources").json()
    assert {s["name"] for s in api} == {"site-news", "site-down"}
    assert all(s["last_run"]["source"] == s["name"] for s in api)


def test_crawl_now_runs_the_source_once(env: Any) -> None:
    from search.web import services

    settings, backend, app = env
    c = _client(app, "admin")
    before = {r["id"] for r in backend.list_records("runs", {"source": "site-down"}, limit=100)}
    page = c.get("/sources").text
    assert "立即抓取" in page
    assert c.post("/sources/site-down/crawl", data={}, follow_redirects=False).status_code == 403  # no CSRF
    r = c.post("/sources/site-down/crawl", data={"csrf": _csrf(page)}, follow_redirects=False)
    assert r.status_code == 303 and "started=site-down" in r.headers["location"]
    again = c.post("/sources/site-down/crawl", data={"csrf": _csrf(page)}, follow_redirects=False)
    assert "busy=site-down" in again.headers["location"] or "started=site-down" in again.headers["location"]
    deadline = time.time() + 120
    while services.is_running(settings, "site-down") and time.time() < deadline:
        time.sleep(0.5)
    after = {r["id"] for r in backend.list_records("runs", {"source": "site-down"}, limit=100)}
    assert len(after - before) >= 1
    assert "立即抓取" in c.get("/sources").text


def test_overview_draws_runs_documents_and_health(client: TestClient, env: Any) -> None:
    page = client.get("/overview")
    assert page.status_code == 200
    text = page.text
    assert text.count("<svg class=\"chart\"") == 4 and "示例科技网 · 要闻" in text
    runs = env[1].list_records("runs", limit=100)
    new = sum(int(r.get("new") or 0) for r in runs)
    assert f"<strong>{new}</strong><span>30 天新增</span>" in text
    assert "有正文" in text and "src-site-down" in text


# -- subscriptions: made in the form and the API, delivered to real receivers ---------------------------------------
def test_subscription_form_in_chinese_and_its_errors(client: TestClient, env: Any) -> None:
    page = client.get("/subscriptions", params={"q": "人工智能", "type": "policy"}).text
    assert 'value="人工智能"' in page and 'value="policy" checked' in page and "> 政策</label>" in page
    assert "> 问题库</label>" in page and "北京市" in page and "企业微信" in page
    token = _csrf(page)
    base = {"csrf": token, "name": "AI 政策", "query": "人工智能", "mode": "immediate"}
    for notify, words in [("http://[::1", "地址格式错误"), ("http://example.com:99999/", "端口"), ("http://exa mple.com/h", "空格"),
                          ("ftp://example.com/", "")]:
        r = client.post("/subscriptions", data={**base, "notify": notify})
        assert r.status_code == 400 and 'role="alert"' in r.text, notify
        assert words in r.text and 'aria-invalid="true"' in r.text, notify
    r = client.post("/subscriptions", data={**base, "notify": "https://hooks.example.com/x", "type": "policy",
                                            "library": "problem", "region": "北京市", "mode": "digest",
                                            "digest_day": "mon", "digest_at": "9:30"}, follow_redirects=False)
    assert r.status_code == 303
    sub = env[1].list_records("subscriptions")[0]
    assert sub["owner"] == "staff" and sub["created"]
    assert sub["filters"] == {"content_type": ["policy"], "libraries": ["problem"], "region": ["北京市"]}
    listing = client.get("/subscriptions").text
    assert "每周一 09:30 摘要" in listing and "Webhook → hooks.example.com" in listing
    r = client.post(f"/subscriptions/{sub['id']}/delete", data={"csrf": token}, follow_redirects=False)
    assert r.status_code == 303 and env[1].list_records("subscriptions") == []


def test_api_subscriptions_ids_and_visibility(env: Any) -> None:
    c = TestClient(env[2])
    staff_token = users.create_token(env[1], "crm")
    admin_token = users.create_token(env[1], "ops", "admin")
    h = {"Authorization": f"Bearer {staff_token}"}
    r = c.post("/api/subscriptions", json={"name": "电池", "query": "电池", "filters": {"region": ["上海市"], "content_type": ["成果"]},
                                           "notify": ["https://hooks.example.com/b"]}, headers=h)
    assert r.status_code == 201, r.text
    sub = r.json()
    assert sub["filters"]["content_type"] == ["achievement"] and sub["created"]
    assert c.post("/api/subscriptions", json={"id": "a/b", "name": "x", "notify": ["https://a.example.com/"]}, headers=h).status_code == 422
    for bad in ("http://[::1", "http://example.com:abc/", "http://8.8.8.8:99999/"):
        r = c.post("/api/subscriptions", json={"name": "x", "notify": [bad]}, headers=h)
        assert r.status_code == 422 and r.json()["field"] == "notify", (bad, r.text)
    # an admin token lists every subscription, a staff token its own
    _client(env[2]).post  # noqa: B018 - a staff session exists too
    ha = {"Authorization": f"Bearer {admin_token}"}
    mine = c.post("/api/subscriptions", json={"name": "运维", "notify": ["https://hooks.example.com/o"]}, headers=ha).json()
    assert {s["id"] for s in c.get("/api/subscriptions", headers=ha).json()} == {sub["id"], mine["id"]}
    assert [s["id"] for s in c.get("/api/subscriptions", headers=h).json()] == [sub["id"]]
    assert c.delete(f"/api/subscriptions/{mine['id']}", headers=h).status_code == 404
    assert c.delete(f"/api/subscriptions/{sub['id']}", headers=h).json() == {"deleted": True}
    # a session may use the API, but writes need the CSRF header
    s = _client(env[2])
    page = s.get("/search").text
    assert s.post("/api/subscriptions", json={"name": "y", "notify": ["https://a.example.com/"]}).json()["code"] == "csrf"
    assert s.post("/api/subscriptions", json={"name": "y", "notify": ["https://a.example.com/"]},
                  headers={"X-CSRF-Token": _csrf(page)}).status_code == 201


def test_web_and_api_subscriptions_deliver_to_real_receivers(env: Any, mockserver: MockServer, tmp_path: Path) -> None:
    settings, backend, app = env
    hook, mail = Webhook(), Mailbox()
    try:
        article = next(a for a in mockserver.manifest()["gbk"] if a["phrase"])
        phrase = article["phrase"]
        c = _client(app)
        page = c.get("/subscriptions").text
        r = c.post("/subscriptions", data={"csrf": _csrf(page), "name": "网页订阅", "query": f'"{phrase}"',
                                           "notify": f"{hook.url('/web')}\n{mail.url()}", "mode": "immediate"},
                   follow_redirects=False)
        assert r.status_code == 303, r.text
        token = users.create_token(backend, "crm")
        r = c.post("/api/subscriptions", json={"name": "接口订阅", "query": f'"{phrase}"', "notify": [hook.url("/api")]},
                   headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 201, r.text
        sources = tmp_path / "more-sources"
        write_source(sources, "site-gbk", start_urls=[mockserver.url("gbk", "/kjdt/")])
        out = run_cli("crawl", "--sources", str(sources), "--json", data=settings.data_dir, env=ENV)
        assert out.returncode in (0, 1), out.stderr
        run_alerts(settings, backend=backend, options=RunOptions(tries=2, backoff=0.01))
        paths = sorted(m["path"] for m in hook.received)
        assert [p.split("?")[0] for p in paths] == ["/api", "/web"], hook.received
        assert len(mail.messages) == 1 and phrase[:4] in json.dumps(hook.received, ensure_ascii=False)
        log = c.get("/subscriptions").text
        assert log.count("已送达") >= 2 and "网页订阅" in log
    finally:
        hook.stop()
        mail.stop()


# -- pure helpers and the CLI -------------------------------------------------------------------------------------
def test_query_params_and_labels() -> None:
    q = query_from_params({"q": "科創", "type": "policy", "since": "2025-01-01", "sort": "date", "page": "2",
                           "collapse": "True", "scitech": "yes"}, relevance_threshold=0.6)
    assert q.filters == {"content_type": ["policy"]} and q.sort == "date" and q.page == 2 and q.collapse
    assert q.min_relevance == 0.6 and q.parsed().positive_terms() == ["科创"]
    assert pages_around(10, 20) == [1, 0, 8, 9, 10, 11, 12, 0, 20]
    assert labels.schedule_text("every 6h") == "每 6 小时"
    assert labels.schedule_text("0 7 * * *").startswith("每天 07:00")
    assert labels.schedule_text("0 */2 * * *").startswith("每 2 小时（整点）")
    assert labels.schedule_text("30 8 * * 1").startswith("每周一 08:30")
    assert labels.error_kind("http-404") == "HTTP 404（页面不存在）" and labels.error_kind("dns") == "域名无法解析"
    assert labels.evidence_item("rules:+3.23/-1.11") == "规则得分 +3.23/-1.11"
    assert labels.evidence_key("content_type:policy") == "类型「政策」的依据"
    assert labels.field_name("key_numbers") == "关键数据"


def test_cli_user_and_token_lists(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    import io

    data = str(tmp_path)
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    assert cli_main(["user", "add", "wang", "--role", "admin", "--password-stdin", "--data", data]) == 0
    assert cli_main(["token", "create", "crm", "--data", data]) == 0
    token = capsys.readouterr().out.strip().splitlines()[-1]
    assert cli_main(["user", "list", "--json", "--data", data]) == 0
    assert [u["name"] for u in json.loads(capsys.readouterr().out)] == ["wang"]
    assert cli_main(["token", "list", "--data", data]) == 0
    listing = capsys.readouterr().out
    assert "crm" in listing and token[:8] in listing and token not in listing
    assert (tmp_path / "techscout.sqlite").stat().st_mode & 0o777 == 0o600
