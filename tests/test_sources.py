"""Source files: only name and start_urls required; every error names the file and the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import SourceError
from core.schedule import parse_schedule
from crawlers.sources import SOURCE_KEYS, load_sources
from tests.conftest import REPO, run_cli


def _write(tmp_path: Path, text: str, name: str = "src.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_minimal_source(tmp_path: Path) -> None:
    path = _write(tmp_path, "name: demo\nstart_urls: [https://www.example.cn/news/]\n")
    [src] = load_sources(path)
    assert src.name == "demo"
    assert src.allowed_domains == ["www.example.cn"]
    assert src.max_list_pages == 30 and src.render_js is False


@pytest.mark.parametrize(
    ("text", "key", "expected"),
    [
        ("start_urls: [https://a.cn/]\n", "'name'", "missing required key"),
        ("name: demo\n", "'start_urls'", "missing required key"),
        ("name: demo\nstart_urls: [ftp://a.cn/]\n", "start_urls[0]", "http(s) URL"),
        ("name: demo\nstart_urls: [https://a.cn/]\nmax_pagse: 3\n", "'max_pagse'", "did you mean 'max_pages'"),
        ("name: demo\nstart_urls: [https://a.cn/]\nmax_pages: many\n", "'max_pages'", "expected an integer"),
        ("name: demo\nstart_urls: [https://a.cn/]\nschedule: sometimes\n", "'schedule'", "cron expression"),
        ("name: demo\nstart_urls: [https://a.cn/]\nallow: ['(']\n", "allow[0]", "invalid regular expression"),
        ("name: demo\nstart_urls: [https://a.cn/]\ncontent_type: blog\n", "'content_type'", "expected one of"),
        ("name: demo\nstart_urls: [https://a.cn/]\nselectors: {body: 'div[['}\n", "selectors.body", "invalid CSS"),
        ("name: Demo Site\nstart_urls: [https://a.cn/]\n", "'name'", "lower-case"),
        ("name: demo\nstart_urls: [https://a.cn/]\nrender_js: 1\n", "'render_js'", "true or false"),
        ("name: [demo\n", "line", "not valid YAML"),
    ],
)
def test_errors_name_file_and_key(tmp_path: Path, text: str, key: str, expected: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(SourceError) as info:
        load_sources(path)
    message = str(info.value)
    assert str(path) in message and key in message and expected in message, message


def test_duplicate_names_are_refused(tmp_path: Path) -> None:
    _write(tmp_path, "name: demo\nstart_urls: [https://a.cn/]\n", "a.yaml")
    _write(tmp_path, "name: demo\nstart_urls: [https://b.cn/]\n", "b.yaml")
    with pytest.raises(SourceError, match="already used"):
        load_sources(tmp_path)


def test_schedules() -> None:
    assert parse_schedule("every 30m") == ("interval", 1800.0)
    assert parse_schedule("every 10s") == ("interval", 10.0)
    assert parse_schedule("0 */2 * * *") == ("cron", "0 */2 * * *")
    with pytest.raises(ValueError):
        parse_schedule("0 99 * * *")


def test_shipped_sources_are_valid() -> None:
    sources = load_sources(REPO / "crawlers" / "sources")
    assert len(sources) >= 10
    assert all(s.notes for s in sources)
    assert {"policy", "news", "achievement"} <= {s.content_type for s in sources}


def test_cli_reports_a_config_typo(tmp_path: Path) -> None:
    _write(tmp_path, "name: demo\nstart_urls: [https://a.cn/]\nrender-js: true\n")
    out = run_cli("sources", "--sources", str(tmp_path), "--check")
    assert out.returncode == 2
    assert "src.yaml: unknown key 'render-js' (did you mean 'render_js'?)" in out.stderr
    assert "Traceback" not in out.stderr


def test_readme_documents_every_source_key() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    for key in SOURCE_KEYS:
        assert f"`{key.name}`" in readme, key.name
