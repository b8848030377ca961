"""The staff UI in real headless Chromium: ``techscout serve`` in a subprocess, a person's daily path."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from benchmarks.web import build_demo_index, write_demo_sources
from search import users
from search.backends.embedded import EmbeddedBackend

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parent.parent
CHROMIUM = os.environ.get("TECHSCOUT_CHROMIUM", "/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PASSWORD = "browser-pass-1"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data = tmp_path_factory.mktemp("web-data")
    write_demo_sources(data / "sources")
    backend = EmbeddedBackend(data / "techscout.sqlite")
    build_demo_index(backend, 400)
    users.add_user(backend, "wang", PASSWORD, "admin")
    backend.close()
    port = _free_port()
    env = os.environ | {"TECHSCOUT_SOURCES": str(data / "sources")}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cli",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--data",
            str(data),
        ],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.time() + 30
    while True:
        try:
            urllib.request.urlopen(base + "/login", timeout=1)
            break
        except OSError:
            if proc.poll() is not None or time.time() > deadline:
                out = proc.stdout.read().decode() if proc.stdout else ""
                proc.kill()
                raise RuntimeError(f"techscout serve did not start:\n{out}") from None
            time.sleep(0.2)
    yield base
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


def _login(page: Any, base: str) -> None:
    page.goto(base + "/search")
    assert "/login" in page.url
    page.fill("input[name=name]", "wang")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(base + "/search")


def test_search_filter_open_document_subscribe(server: str, browser: Any) -> None:
    page = browser.new_page(viewport={"width": 1366, "height": 900}, locale="zh-CN")
    _login(page, server)
    # the query box has the focus; "/" brings it back after clicking elsewhere
    assert page.evaluate("document.activeElement.id") == "q"
    page.click("h1, .summary")
    page.keyboard.press("/")
    assert page.evaluate("document.activeElement.id") == "q"
    page.keyboard.type("研究")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    total = int(page.inner_text(".summary strong"))
    assert total > 0
    assert page.locator(".hit mark").count() > 0
    assert page.locator(".reprints").count() > 0
    (REPO / "test-artifacts").mkdir(exist_ok=True)
    page.screenshot(path=str(REPO / "test-artifacts" / "search.png"), full_page=False)
    # filter by the first content-type facet and check the count matches the facet's number
    facet = page.locator("a[data-facet=type]").first
    expected = int(facet.locator("xpath=following-sibling::span[1]").inner_text())
    with page.expect_navigation():
        facet.click()
    # facet counts are documents (reprints included); the headline total counts collapsed clusters
    assert int(page.get_attribute(".doccount", "data-n") or 0) == expected
    assert int(page.inner_text(".summary strong")) <= expected < total
    assert page.locator(".chip").count() == 1
    # open a document
    title = page.locator(".hit h2 a").first.inner_text()
    with page.expect_navigation():
        page.locator(".hit h2 a").first.click()
    assert page.inner_text("h1") == title
    assert page.locator("#cluster").count() == 1
    page.screenshot(path=str(REPO / "test-artifacts" / "document.png"), full_page=True)
    # save the filtered search as a subscription
    page.go_back()
    with page.expect_navigation():
        page.click("text=保存为订阅")
    page.fill("input[name=name]", "研究动态")
    page.fill("textarea[name=notify]", "https://hooks.example.com/techscout")
    page.check("input[value=digest]")
    page.click("#subform button[type=submit]")
    page.wait_for_url(server + "/subscriptions")
    row = page.locator("table.grid tbody tr").first
    assert "研究动态" in row.inner_text() and "每日" in row.inner_text()
    # delete it (confirmed in a dialog)
    page.once("dialog", lambda d: d.accept())
    with page.expect_navigation():
        row.locator("button.danger").click()
    assert "研究动态" not in page.inner_text("table.grid")
    # the sort menu submits itself
    page.goto(server + "/search?q=材料")
    with page.expect_navigation():
        page.select_option("select[name=sort]", "date")
    assert "sort=date" in page.url
    dates = [d for d in page.locator(".hit .date").all_inner_texts() if d[:1].isdigit()]
    assert dates == sorted(dates, reverse=True) and len(dates) > 1
    page.close()


def test_phone_width(server: str, browser: Any) -> None:
    page = browser.new_page(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    _login(page, server)
    page.fill("#q", "材料")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390 + 1
    box = page.locator(".results").bounding_box()
    assert box is not None and box["width"] > 300
    (REPO / "test-artifacts").mkdir(exist_ok=True)
    page.screenshot(path=str(REPO / "test-artifacts" / "search-phone.png"))
    page.close()
