"""The settings object: defaults < techscout.toml < TECHSCOUT_* < command line; typos name the file and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import ConfigError
from core.settings import SETTINGS, load_settings
from tests.conftest import REPO, run_cli


def test_layers(tmp_path: Path) -> None:
    conf = tmp_path / "techscout.toml"
    conf.write_text('delay = 2.5\nmax_pages = 40\nbackend = "embedded"\n', encoding="utf-8")
    s = load_settings(config_file=conf, env={"TECHSCOUT_MAX_PAGES": "70"})
    assert s.delay == 2.5 and s.max_pages == 70
    assert s.origin["delay"] == str(conf) and s.origin["max_pages"] == "TECHSCOUT_MAX_PAGES"
    s = load_settings(data=tmp_path / "d", config_file=conf, env={}, max_pages=5)
    assert s.max_pages == 5 and s.data_dir == tmp_path / "d"


def test_unknown_key_names_file_and_key(tmp_path: Path) -> None:
    conf = tmp_path / "techscout.toml"
    conf.write_text("dealy = 2\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"techscout.toml: unknown key 'dealy'"):
        load_settings(config_file=conf, env={})


def test_wrong_type_names_the_key(tmp_path: Path) -> None:
    conf = tmp_path / "techscout.toml"
    conf.write_text('max_pages = "lots"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"key 'max_pages'.*expected a whole number"):
        load_settings(config_file=conf, env={})
    with pytest.raises(ConfigError, match="TECHSCOUT_DELAY"):
        load_settings(env={"TECHSCOUT_DELAY": "soon"})


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ('schedule = "every banana"', r"key 'schedule': expected a cron expression .* got 'every banana'"),
        ("timeout = -1", r"key 'timeout': expected a number greater than 0"),
        ("port = 8080.5", r"key 'port': expected a whole number for 'port', got 8080.5"),
        ("port = 70000", r"key 'port': expected a port between 1 and 65535"),
        ("delay = nan", r"key 'delay': expected a number"),
        ('allow_private_urls = "maybe"', r"key 'allow_private_urls': expected true or false"),
        ('log_level = "LOUD"', r"key 'log_level': expected one of DEBUG, INFO, WARNING, ERROR"),
        ('redis_url = "localhost:6379"', r"key 'redis_url': expected a redis:// URL"),
    ],
)
def test_every_value_is_checked_and_named(tmp_path: Path, line: str, expected: str) -> None:
    conf = tmp_path / "techscout.toml"
    conf.write_text(line + "\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=str(conf) + ": " + expected):
        load_settings(config_file=conf, env={})


def test_bad_value_stops_run_with_a_clear_error(tmp_path: Path) -> None:
    conf = tmp_path / "techscout.toml"
    conf.write_text('schedule = "every banana"\n', encoding="utf-8")
    out = run_cli("run", "--once", "--no-web", "--config", str(conf), "--data", str(tmp_path / "d"))
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert f"{conf}: key 'schedule'" in out.stderr


def test_bad_backend() -> None:
    with pytest.raises(ConfigError, match="TECHSCOUT_BACKEND: expected one of embedded, elasticsearch, opensearch"):
        load_settings(env={"TECHSCOUT_BACKEND": "mysql"})


def test_cli_config_error_is_clear(tmp_path: Path) -> None:
    conf = tmp_path / "techscout.toml"
    conf.write_text("[techscout]\nmax_pages = [1\n", encoding="utf-8")
    out = run_cli("search", "x", "--config", str(conf))
    assert out.returncode == 2 and "not valid TOML" in out.stderr and "Traceback" not in out.stderr


def test_readme_documents_every_setting() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    rows = {  # the settings table: name | environment variable | default | meaning
        cells[0].strip("` "): cells[2].strip()
        for line in readme.splitlines()
        if line.startswith("| `")
        and len(cells := line.strip("|").split(" | ")) >= 4
        and "TECHSCOUT_" in cells[1]
    }
    for s in SETTINGS:
        assert f"`{s.name}`" in readme and f"`{s.env}`" in readme, s.name
        documented = rows[s.name]
        if s.default in ("", None):  # no value: the row says in words what applies
            assert documented.startswith("(") and documented.endswith(")"), (s.name, documented)
            assert ("shipped" in documented) == (s.name in ("sources", "taxonomy")), (s.name, documented)
        else:
            assert documented == f"`{s.default}`", (s.name, documented, s.default)
