"""Web UI and JSON API against a real embedded backend in a temporary data directory."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from cli import main as cli_main
from core.items import Article
from core.settings import load_settings
from search import users
from search.backends.embedded import EmbeddedBackend
from search.web.app import create_app, month_range, pages_around, query_from_params, validate_subscription
from search.web.auth import UrlError, check_webhook_url, load_secret, read_session, sign_session

PASSWORD = "correct horse 1"


def _article(i: int, title: str, text: str, **kw: Any) -> Article:
    base: dict[str, Any] = {
        "id": f"doc{i:04d}",
        "url": f"https://news.example.cn/a/{i}.html",
        "source": kw.pop("source", "cast-news"),
        "fetched": "2025-03-01T00:00:00+00:00",
        "title": title,
        "text": text,
        "search_title": title,
        "search_text": text,
        "published": kw.pop("published", f"2025-0{1 + i % 3}-1{i % 10}T09:00:00+08:00"),
        "content_type": kw.pop("content_type", "news"),
        "domains": kw.pop("domains", ["人工智能"]),
        "region": kw.pop("region", "北京市"),
        "cluster_id": kw.pop("cluster_id", f"c{i}"),
    }
    base.update(kw)
    return Article(**base)


DOCS = [
    _article(
        1,
        "人工智能产业发展政策发布",
        "北京市发布人工智能产业发展若干政策，支持大模型研发。",
        content_type="policy",
    ),
    _article(
        2,
        "新能源汽车电池技术取得突破",
        "研究团队在固态电池领域取得重大突破。",
        domains=["新能源"],
        region="上海市",
    ),
    _article(
        3,
        "人工智能赋能制造业",
        "人工智能技术在制造业中的应用不断深入。",
        cluster_id="shared",
        published="2025-02-01T09:00:00+08:00",
    ),
    _article(
        4,
        "人工智能赋能制造业（转载）",
        "人工智能技术在制造业中的应用不断深入。",
        cluster_id="shared",
        source="local-daily",
        published="2025-02-03T09:00:00+08:00",
    ),
    _article(5, "<script>alert(1)</script>", "这是一篇标题里含有脚本的人工智能文章。", content_type="news"),
    _article(
        6,
        "企业技术需求：工业视觉检测",
        "某公司征集工业视觉检测技术方案，人工智能方向。",
        content_type="demand",
        libraries=["problem"],
        entries=[{"id": "problem-1", "library": "problem"}],
    ),
]


@pytest.fixture()
def env(tmp_path: Path) -> Any:
    settings = load_settings(data=tmp_path, env={}, sources=str(tmp_path / "sources"))
    (tmp_path / "sources").mkdir()
    (tmp_path / "sources" / "cast-news.yaml").write_text(
        "name: cast-news\ntitle: 中国科协 · 要闻\nstart_urls: [https://www.cast.org.cn/]\nschedule: every 2h\n",
        encoding="utf-8",
    )
    backend = EmbeddedBackend(tmp_path / "techscout.sqlite")
    backend.upsert(DOCS)
    backend.put_record(
        "entries",
        "problem-1",
        {
            "id": "problem-1",
            "library": "problem",
            "name": "工业视觉检测",
            "organization": "某公司",
            "domains": ["人工智能"],
            "doc_ids": ["doc0006"],
        },
    )
    backend.put_record(
        "entries",
        "talent-1",
        {
            "id": "talent-1",
            "library": "talent",
            "name": "张三",
            "affiliation": "某大学",
            "title": "教授",
            "doc_ids": ["doc0001", "doc0003"],
        },
    )
    backend.put_record(
        "runs",
        "run-1",
        {
            "id": "run-1",
            "source": "cast-news",
            "started": "2025-03-01T00:00:00",
            "status": "ok",
            "fetched": 12,
            "new": 3,
            "errors": {"http_404": 2},
        },
    )
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
        "/login",
        data={"name": name, "password": password, "csrf": _csrf(page.text), "next": "/search"},
        follow_redirects=False,
    )


@pytest.fixture()
def client(env: Any) -> TestClient:
    c = TestClient(env[2])
    assert _login(c).status_code == 303
    return c


# -- auth ---------------------------------------------------------------------------------------------------------
def test_pages_redirect_to_login_without_session(env: Any) -> None:
    c = TestClient(env[2])
    for path in ("/search", "/doc/doc0001", "/library/talent", "/sources", "/subscriptions", "/docs"):
        r = c.get(path, follow_redirects=False)
        assert r.status_code == 303, path
        assert r.headers["location"].startswith("/login?next=")
    assert c.get("/login").status_code == 200


def test_login_wrong_password_and_logout(env: Any) -> None:
    c = TestClient(env[2])
    r = _login(c, password="wrong password")
    assert r.status_code == 401 and "用户名或密码错误" in r.text
    assert c.get("/search", follow_redirects=False).status_code == 303
    assert _login(c).status_code == 303
    page = c.get("/search")
    assert page.status_code == 200
    c.post("/logout", data={"csrf": _csrf(page.text)})
    assert c.get("/search", follow_redirects=False).status_code == 303


def test_login_form_without_csrf_is_rejected(env: Any) -> None:
    c = TestClient(env[2])
    c.get("/login")
    r = c.post("/login", data={"name": "staff", "password": PASSWORD}, follow_redirects=False)
    assert r.status_code == 403
    r = c.post(
        "/login", data={"name": "staff", "password": PASSWORD, "csrf": "0" * 64}, follow_redirects=False
    )
    assert r.status_code == 403


def test_password_hash_is_scrypt_and_salted(env: Any) -> None:
    backend = env[1]
    rec = backend.get_record("users", "staff")
    assert rec["kdf"].startswith("scrypt:") and PASSWORD not in json.dumps(rec)
    users.add_user(backend, "other", PASSWORD)
    assert backend.get_record("users", "other")["hash"] != rec["hash"]
    assert users.authenticate(backend, "staff", PASSWORD) == {
        "name": "staff",
        "role": "staff",
        "created": rec["created"],
    }
    assert users.authenticate(backend, "staff", PASSWORD + "x") is None
    assert users.authenticate(backend, "nobody", PASSWORD) is None


def test_session_cookie_is_signed(env: Any) -> None:
    settings = env[0]
    secret = load_secret(settings.secret_key, settings.data_dir)
    assert (settings.data_dir / "secret_key").stat().st_mode & 0o777 == 0o600
    cookie = sign_session(secret, {"u": "admin", "r": "admin", "n": "x", "exp": 2**40})
    assert read_session(secret, cookie) == {"u": "admin", "r": "admin", "n": "x", "exp": 2**40}
    payload, sig = cookie.split(".")
    assert read_session(secret, payload + "." + sig[:-2] + "AA") is None
    assert read_session(b"another secret", cookie) is None
    assert read_session(secret, sign_session(secret, {"u": "admin", "n": "x", "exp": 1})) is None
    # a forged cookie does not open pages
    c = TestClient(env[2])
    c.cookies.set(
        "techscout_session", sign_session(b"guess", {"u": "admin", "r": "admin", "n": "x", "exp": 2**40})
    )
    assert c.get("/search", follow_redirects=False).status_code == 303


def test_api_needs_token_or_session(env: Any) -> None:
    c = TestClient(env[2])
    for path in (
        "/api/search?q=人工智能",
        "/api/documents/doc0001",
        "/api/entries",
        "/api/subscriptions",
        "/api/runs",
        "/api/sources",
        "/openapi.json",
    ):
        assert c.get(path).status_code == 401, path
    assert c.get("/api/search", headers={"Authorization": "Bearer tsk_invalid"}).status_code == 401
    token = users.create_token(env[1], "integration")
    assert token not in json.dumps(env[1].list_records("tokens"))
    r = c.get("/api/search", params={"q": "人工智能"}, headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200 and r.json()["total"] >= 4
    spec = c.get("/openapi.json", headers={"Authorization": f"Bearer {token}"}).json()
    assert "/api/search" in spec["paths"] and "/api/subscriptions" in spec["paths"]
    assert {p["name"] for p in spec["paths"]["/api/search"]["get"]["parameters"]} >= {
        "q",
        "type",
        "source",
        "domain",
        "region",
        "library",
        "since",
        "until",
        "sort",
        "page",
        "size",
    }
    users.revoke_token(env[1], "integration")
    assert c.get("/api/search", headers={"Authorization": f"Bearer {token}"}).status_code == 401


# -- search -------------------------------------------------------------------------------------------------------
def test_api_search_json_equals_cli(env: Any, client: TestClient, capsys: pytest.CaptureFixture[str]) -> None:
    settings = env[0]
    cases = [
        (["人工智能"], {"q": "人工智能"}),
        (["人工智能", "--type", "policy"], {"q": "人工智能", "type": "policy"}),
        (
            ["", "--sort", "date", "--limit", "2", "--page", "2"],
            {"q": "", "sort": "date", "size": "2", "page": "2"},
        ),
        (["人工 OR 电池", "--region", "上海市"], {"q": "人工 OR 电池", "region": "上海市"}),
        (
            ["", "--since", "2025-02-01", "--until", "2025-02-28"],
            {"since": "2025-02-01", "until": "2025-02-28"},
        ),
        (["人工智能", "--collapse"], {"q": "人工智能", "collapse": "true"}),
    ]
    for argv, params in cases:
        assert cli_main(["search", *argv, "--json", "--data", str(settings.data_dir)]) == 0
        expected = json.loads(capsys.readouterr().out)
        got = client.get("/api/search", params=params).json()
        assert got == expected, params


def test_api_search_filters(client: TestClient) -> None:
    ids = {
        h["id"] for h in client.get("/api/search", params={"q": "人工智能", "type": "policy"}).json()["hits"]
    }
    assert ids == {"doc0001"}
    ids = {h["id"] for h in client.get("/api/search", params=[("domain", "新能源")]).json()["hits"]}
    assert ids == {"doc0002"}
    ids = {h["id"] for h in client.get("/api/search", params=[("source", "local-daily")]).json()["hits"]}
    assert ids == {"doc0004"}
    r = client.get("/api/search", params={"since": "not a date"})
    assert r.status_code == 400
    assert client.get("/api/search", params={"q": '"unbalanced'}).status_code == 400


def test_api_docs_page_lists_endpoints(client: TestClient) -> None:
    page = client.get("/docs").text
    for path in (
        "/api/search",
        "/api/documents/{doc_id}",
        "/api/entries",
        "/api/subscriptions",
        "/api/runs",
        "/api/sources",
    ):
        assert f"<code>{path}</code>" in page, path
    assert "<code>since</code>" in page and "DELETE" in page


def test_search_page_facets_snippets_clusters(client: TestClient) -> None:
    r = client.get("/search", params={"q": "人工智能"})
    assert r.status_code == 200
    assert "<mark>" in r.text  # highlighted snippets
    assert "+1 转载" in r.text  # the two cluster members collapse into one hit
    assert r.text.count('class="hit"') == 4  # doc1, doc3(+doc4), doc5, doc6
    assert re.search(r'data-facet="type">政策</a> <span class="count">1</span>', r.text)
    r = client.get("/search", params={"q": "人工智能", "type": "policy"})
    assert r.text.count('class="hit"') == 1 and "人工智能产业发展政策发布" in r.text
    r = client.get("/search", params={"q": "", "sort": "date", "size": "2"})
    assert 'rel="next"' in r.text


def test_xss_title_is_escaped(client: TestClient) -> None:
    for path in ("/search?q=脚本", "/doc/doc0005"):
        page = client.get(path).text
        assert "<script>alert(1)</script>" not in page, path
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page, path


def test_export_csv_and_json(client: TestClient) -> None:
    r = client.get("/search/export.csv", params={"q": "人工智能"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    lines = r.text.lstrip("\ufeff").strip().splitlines()
    assert lines[0].startswith("id,title") and len(lines) == 1 + 4
    data = client.get("/search/export.json", params={"q": "人工智能", "type": "policy"}).json()
    assert [h["id"] for h in data["hits"]] == ["doc0001"]


def test_document_page_cluster_and_entries(client: TestClient, env: Any) -> None:
    page = client.get("/doc/doc0004").text
    assert "首发" in page and "doc0003" in page  # first publisher of the cluster
    assert "https://news.example.cn/a/4.html" in page
    page = client.get("/doc/doc0006").text
    assert "/entry/problem-1" in page and "工业视觉检测" in page
    assert client.get("/doc/nope").status_code == 404
    doc = client.get("/api/documents/doc0001").json()
    assert doc["title"] == "人工智能产业发展政策发布" and doc["revisions"] == []


def test_library_and_talent_pages(client: TestClient) -> None:
    page = client.get("/library/talent").text
    assert "张三" in page and "某大学" in page
    talent = client.get("/entry/talent-1").text
    assert "人工智能产业发展政策发布" in talent and "人工智能赋能制造业" in talent
    assert "工业视觉检测" in client.get("/library/problem").text
    assert "工业视觉检测" not in client.get("/library/problem", params={"q": "不存在的名字"}).text
    assert client.get("/library/nothing").status_code == 404
    entries = client.get("/api/entries", params={"library": "talent"}).json()
    assert [e["id"] for e in entries] == ["talent-1"]


def test_sources_page_and_api(client: TestClient, env: Any) -> None:
    page = client.get("/sources").text
    assert "中国科协 · 要闻" in page and "every 2h" in page and "http_404" in page
    assert "立即抓取" not in page  # staff cannot start crawls
    srcs = client.get("/api/sources").json()
    assert srcs[0]["name"] == "cast-news" and srcs[0]["last_run"]["id"] == "run-1"
    assert [r["id"] for r in client.get("/api/runs").json()] == ["run-1"]
    r = client.post("/sources/cast-news/crawl", data={"csrf": _csrf(page)}, follow_redirects=False)
    assert r.status_code == 403


def test_crawl_now_needs_admin_and_csrf(env: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[str] = []

    class FakeProc:
        def poll(self) -> None:
            return None

    def fake_start(settings: Any, name: str) -> FakeProc:
        started.append(name)
        return FakeProc()

    monkeypatch.setattr("search.web.app.start_crawl", fake_start)
    c = TestClient(env[2])
    _login(c, "admin")
    page = c.get("/sources").text
    assert "立即抓取" in page
    assert c.post("/sources/cast-news/crawl", data={}, follow_redirects=False).status_code == 403
    r = c.post("/sources/cast-news/crawl", data={"csrf": _csrf(page)}, follow_redirects=False)
    assert r.status_code == 303 and started == ["cast-news"]
    assert "抓取中" in c.get("/sources").text


def test_start_crawl_command(env: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[list[str]] = []

    class P:
        def __init__(self, cmd: list[str], **kw: Any) -> None:
            calls.append(cmd)

    monkeypatch.setattr("subprocess.Popen", P)
    from search.web.app import start_crawl

    start_crawl(env[0], "cast-news")
    assert calls[0][1:6] == ["-m", "cli", "crawl", "cast-news", "--data"]
    assert calls[0][6] == str(env[0].data_dir)


# -- subscriptions ------------------------------------------------------------------------------------------------
def test_subscriptions_form_crud(client: TestClient, env: Any) -> None:
    page = client.get("/subscriptions", params={"q": "人工智能", "type": "policy"})
    assert 'value="人工智能"' in page.text
    token = _csrf(page.text)
    form = {
        "csrf": token,
        "name": "AI 政策",
        "query": "人工智能",
        "type": "policy",
        "notify": "https://hooks.example.com/x",
        "mode": "digest",
        "digest_at": "9:30",
    }
    assert client.post("/subscriptions", data={**form, "csrf": "bad"}).status_code == 403
    r = client.post("/subscriptions", data=form, follow_redirects=False)
    assert r.status_code == 303
    subs = env[1].list_records("subscriptions")
    assert len(subs) == 1
    sub = subs[0]
    assert sub["owner"] == "staff" and sub["filters"] == {"content_type": ["policy"]}
    assert (
        sub["mode"] == "digest"
        and sub["digest_at"] == "09:30"
        and sub["notify"] == ["https://hooks.example.com/x"]
    )
    r = client.post("/subscriptions", data={**form, "id": sub["id"], "name": "改名"}, follow_redirects=False)
    assert env[1].get_record("subscriptions", sub["id"])["name"] == "改名"
    r = client.post("/subscriptions", data={**form, "notify": "http://127.0.0.1:8080/hook"})
    assert r.status_code == 400 and "内网" in r.text
    r = client.post(f"/subscriptions/{sub['id']}/delete", data={"csrf": token}, follow_redirects=False)
    assert r.status_code == 303 and env[1].list_records("subscriptions") == []


def test_api_subscriptions(env: Any) -> None:
    c = TestClient(env[2])
    token = users.create_token(env[1], "crm")
    h = {"Authorization": f"Bearer {token}"}
    r = c.post(
        "/api/subscriptions",
        json={"name": "电池", "query": "电池", "filters": {"region": ["上海市"]}},
        headers=h,
    )
    assert r.status_code == 201
    sub_id = r.json()["id"]
    assert [s["id"] for s in c.get("/api/subscriptions", headers=h).json()] == [sub_id]
    bad = c.post("/api/subscriptions", json={"name": "x", "notify": ["http://10.0.0.5/hook"]}, headers=h)
    assert bad.status_code == 422
    assert (
        c.post("/api/subscriptions", json={"name": "x", "filters": {"color": ["red"]}}, headers=h).status_code
        == 422
    )
    assert c.delete(f"/api/subscriptions/{sub_id}", headers=h).json() == {"deleted": True}
    assert c.get("/api/subscriptions", headers=h).json() == []
    # a session may use the API, but writes need the CSRF header
    _login(c)
    page = c.get("/search").text
    assert c.post("/api/subscriptions", json={"name": "y"}).status_code == 403
    assert (
        c.post("/api/subscriptions", json={"name": "y"}, headers={"X-CSRF-Token": _csrf(page)}).status_code
        == 201
    )


def test_staff_cannot_touch_others_subscriptions(env: Any, client: TestClient) -> None:
    env[1].put_record("subscriptions", "s1", {"id": "s1", "name": "别人的", "owner": "admin", "query": "x"})
    page = client.get("/subscriptions").text
    assert "别人的" not in page
    r = client.post("/subscriptions/s1/delete", data={"csrf": _csrf(page)})
    assert r.status_code == 404 and env[1].get_record("subscriptions", "s1") is not None


def test_webhook_url_check() -> None:
    for url in (
        "http://127.0.0.1/x",
        "http://localhost:9000/",
        "http://10.1.2.3/",
        "http://192.168.1.1/",
        "http://[::1]/",
        "http://169.254.169.254/latest",
        "http://printer.local/",
        "ftp://example.com/",
    ):
        with pytest.raises(UrlError):
            check_webhook_url(url, resolve=False)
    assert check_webhook_url("https://8.8.8.8/hook", resolve=False) == "https://8.8.8.8/hook"
    assert check_webhook_url("http://127.0.0.1/x", allow_private=True) == "http://127.0.0.1/x"


# -- pure helpers -------------------------------------------------------------------------------------------------
def test_query_from_params_and_helpers() -> None:
    q = query_from_params({"q": "科創", "type": "policy", "since": "2025-01-01", "sort": "date", "page": "2"})
    assert q.filters == {"content_type": ["policy"]} and q.sort == "date" and q.page == 2
    assert q.parsed().positive_terms() == ["科创"]
    assert month_range("2024-02") == ("2024-02-01", "2024-02-29")
    assert month_range("2024-12") == ("2024-12-01", "2024-12-31")
    assert pages_around(1, 1) == [1]
    assert pages_around(10, 20) == [1, 0, 8, 9, 10, 11, 12, 0, 20]
    rec = validate_subscription(
        {"name": "n", "filters": {"type": "news"}, "notify": "https://a.example.com/h"},
        "me",
        allow_private=False,
    )
    assert (
        rec["filters"] == {"content_type": ["news"]} and rec["owner"] == "me" and rec["mode"] == "immediate"
    )


def test_cli_user_and_token(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import io

    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    assert (
        cli_main(["user", "add", "wang", "--role", "admin", "--password-stdin", "--data", str(tmp_path)]) == 0
    )
    assert cli_main(["token", "create", "crm", "--data", str(tmp_path)]) == 0
    token = capsys.readouterr().out.strip().splitlines()[-1]
    backend = EmbeddedBackend(tmp_path / "techscout.sqlite")
    try:
        assert users.authenticate(backend, "wang", PASSWORD)["role"] == "admin"  # type: ignore[index]
        assert users.check_token(backend, token) == {"name": "token:crm", "role": "staff", "token": True}
    finally:
        backend.close()


def test_crawled_links_cannot_run_script_and_csp_is_set(env: Any, client: TestClient) -> None:
    env[1].upsert([_article(7, "恶意链接测试", "人工智能测试正文。", url="javascript:alert(1)")])
    page = client.get("/doc/doc0007")
    assert 'href="javascript:' not in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert "onclick=" not in page.text and "onsubmit=" not in page.text
    search = client.get("/search", params={"q": "恶意链接"})
    assert 'href="javascript:' not in search.text


def test_subscription_links_to_its_search(env: Any, client: TestClient) -> None:
    env[1].put_record(
        "subscriptions",
        "s2",
        {"id": "s2", "name": "我的", "owner": "staff", "query": "电池", "filters": {"region": ["上海市"]}},
    )
    page = client.get("/subscriptions", params={"q": "无关"}).text
    m = re.search(r'<a href="(/search\?[^"]+)">我的</a>', page)
    assert m
    results = client.get(m.group(1).replace("&amp;", "&")).text
    assert "新能源汽车电池技术取得突破" in results and results.count('class="hit"') == 1
