"""techscout's settings, declared once, as data.

Every setting is one field of :class:`Settings` with its default, its meaning and the check its value must pass;
everything else is generated from those fields: the table :data:`SETTINGS` (README's configuration table is
checked against it by a test), the ``TECHSCOUT_*`` environment of a crawl subprocess (:meth:`Settings.as_env`),
and the values a crawl hands to Scrapy (``crawlers.runner``).

Values come from, in increasing priority: the defaults, ``techscout.toml`` (in the working directory or the data
directory, or the file named by ``TECHSCOUT_CONFIG`` / ``--config``), ``TECHSCOUT_*`` environment variables, and
command-line options. A wrong value is a :class:`~core.errors.ConfigError` naming where it came from (the file
and the key, the variable, or the option) and what was expected.
"""

from __future__ import annotations

import os
import tomllib
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from core.errors import ConfigError
from core.paths import DataPaths
from core.schedule import parse_schedule
from core.values import parse_bool

USER_AGENT = "techscout/0.1 (+https://github.com/techscout; sci-tech resource monitor)"
BACKENDS = ("embedded", "elasticsearch", "opensearch")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
#: where the shipped sources live (the default of the ``sources`` setting)
SHIPPED_SOURCES = Path(__file__).resolve().parent.parent / "crawlers" / "sources"


# -- checks a value must pass (each returns an error text, or "" when the value is fine) -------------------------
def _positive(value: float) -> str:
    return "" if value > 0 else "expected a number greater than 0"


def _not_negative(value: float) -> str:
    return "" if value >= 0 else "expected a number of at least 0"


def _port(value: int) -> str:
    return "" if 0 < value < 65536 else "expected a port between 1 and 65535"


def _one_of(*choices: str) -> Callable[[str], str]:
    def check(value: str) -> str:
        return "" if value in choices else f"expected one of {', '.join(choices)}"

    return check


def _schedule(value: str) -> str:
    try:
        parse_schedule(value)
    except ValueError as exc:
        return str(exc)
    return ""


def _urls(value: str) -> str:
    for url in filter(None, (u.strip() for u in value.split(","))):
        if not url.startswith(("http://", "https://")):
            return f"expected http(s) URLs, comma-separated, got {url!r}"
    return ""


def _redis(value: str) -> str:
    return "" if not value or value.startswith(("redis://", "rediss://", "unix://")) else "expected a redis:// URL"


def setting(default: Any, doc: str, check: Callable[[Any], str] | None = None) -> Any:
    """Declare one setting: its default, its meaning (README) and the check of its value."""
    return field(default=default, metadata={"doc": doc, "check": check})


@dataclass
class Settings:
    """techscout's settings; each field is one setting (see :func:`setting`)."""

    data: str = setting("./techscout-data", "Data directory: the embedded index, crawl state and logs.")
    sources: str = setting("", "Sources directory or one YAML file (default: the shipped `crawlers/sources`).")
    backend: str = setting(
        "embedded",
        "Search backend: `embedded` (SQLite file in the data directory), `elasticsearch` or `opensearch`.",
        _one_of(*BACKENDS),
    )
    elasticsearch_url: str = setting(
        "", "Elasticsearch or OpenSearch URL(s), comma-separated, for those backends.", _urls
    )
    elasticsearch_prefix: str = setting("techscout", "Prefix of every Elasticsearch/OpenSearch index and alias name.")
    redis_url: str = setting("", "Redis URL; when set, crawls share a frontier and crawl state through Redis.", _redis)
    user_agent: str = setting(USER_AGENT, "User-Agent sent to every site.")
    delay: float = setting(
        1.0, "Default seconds between requests to one site (a source's `delay` overrides it).", _not_negative
    )
    concurrency: int = setting(2, "Default concurrent requests per site.", _positive)
    max_pages: int = setting(500, "Default bound on pages fetched per source per crawl.", _positive)
    timeout: int = setting(30, "Seconds before a request to a site times out.", _positive)
    revisit_days: float = setting(
        30.0, "Known article pages are re-checked (conditional GET) after this many days.", _not_negative
    )
    schedule: str = setting("every 6h", "Default schedule of a source without `schedule`.", _schedule)
    crawl_timeout: int = setting(3600, "Seconds after which a scheduled crawl is stopped.", _positive)
    max_crawls: int = setting(4, "Most scheduled crawls running at once; more wait for a slot.", _positive)
    crawl_memory_mb: int = setting(
        1200,
        "Memory (MB) the running crawl processes may take together: a crawl waits for a slot while the measured "
        "memory of the running ones plus the largest seen so far would exceed it.",
        _positive,
    )
    extract_processes: int = setting(
        1,
        "Processes beside each crawl that extract its pages on the machine's other cores (0: in the crawl "
        "process; never more than the cores less one).",
        _not_negative,
    )
    taxonomy: str = setting("", "Taxonomy YAML replacing the shipped one (content types, domains, regions).")
    host: str = setting("127.0.0.1", "Address the web UI and API listen on.")
    port: int = setting(8080, "Port of the web UI and API.", _port)
    secret_key: str = setting(
        "", "Secret for session cookies and CSRF tokens (generated into the data directory if empty)."
    )
    allow_private_urls: bool = setting(
        False, "Allow crawl and notification URLs on private/loopback addresses (for local test sites only)."
    )
    chromium: str = setting("/usr/bin/chromium", "Chromium executable for `render_js` sources and browser tests.")
    log_level: str = setting("INFO", "Log level of crawls and services.", _one_of(*LOG_LEVELS))
    origin: dict[str, str] = field(default_factory=dict)  # setting name -> where its value came from

    @property
    def data_dir(self) -> Path:
        return Path(self.data).expanduser()

    @property
    def paths(self) -> DataPaths:
        """The files and folders of the data directory."""
        return DataPaths(self.data_dir)

    @property
    def sources_path(self) -> Path:
        return Path(self.sources).expanduser() if self.sources else SHIPPED_SOURCES

    def as_env(self) -> dict[str, str]:
        """The settings as TECHSCOUT_* variables, to hand to a crawl subprocess."""
        out = {}
        for s in SETTINGS:
            value = getattr(self, s.name)
            out[s.env] = ("1" if value else "0") if isinstance(value, bool) else str(value)
        return out


@dataclass(frozen=True)
class Setting:
    """One row of the settings table, generated from a field of :class:`Settings`."""

    name: str
    type: type
    default: Any
    doc: str
    check: Callable[[Any], str] | None = None

    @property
    def env(self) -> str:
        return "TECHSCOUT_" + self.name.upper()


def _table() -> tuple[Setting, ...]:
    hints = typing.get_type_hints(Settings)
    return tuple(
        Setting(f.name, hints[f.name], f.default, f.metadata["doc"], f.metadata["check"])
        for f in fields(Settings)
        if "doc" in f.metadata
    )


SETTINGS: tuple[Setting, ...] = _table()
_BY_NAME = {s.name: s for s in SETTINGS}


def _coerce(setting: Setting, value: Any, where: str) -> Any:
    """``value`` as the setting's type, checked; a ConfigError naming ``where`` when it is not acceptable."""
    expected = {bool: "true or false", int: "a whole number", float: "a number", str: "a string"}[setting.type]
    try:
        if setting.type is bool:
            out: Any = parse_bool(value)
        elif isinstance(value, bool):
            raise ValueError
        elif setting.type is int:
            # 8080.5 is not a port and "3.0" is not a page count: only whole numbers are accepted
            if isinstance(value, int):
                out = value
            elif isinstance(value, str) and value.strip().lstrip("+-").isdigit():
                out = int(value.strip())
            else:
                raise ValueError
        elif setting.type is float:
            if isinstance(value, int | float):
                out = float(value)
            elif isinstance(value, str):
                out = float(value.strip())
            else:
                raise ValueError
            if out != out or out in (float("inf"), float("-inf")):
                raise ValueError
        else:
            if not isinstance(value, str):
                raise ValueError
            out = value
    except (ValueError, TypeError):
        raise ConfigError(f"{where}: expected {expected} for {setting.name!r}, got {value!r}") from None
    problem = setting.check(out) if setting.check and out != "" else ""
    if problem:
        raise ConfigError(f"{where}: {problem} for {setting.name!r}, got {value!r}")
    return out


#: the Scrapy setting under which a crawl carries its techscout settings (the one object, handed whole)
SCRAPY_KEY = "TECHSCOUT_SETTINGS"


def of_crawler(crawler: Any) -> Settings | None:
    """The techscout settings a crawl carries (``crawler.settings[SCRAPY_KEY]``), None outside a techscout crawl."""
    value = crawler.settings.get(SCRAPY_KEY) if crawler is not None else None
    return value if isinstance(value, Settings) else None


def load_settings(
    data: str | os.PathLike[str] | None = None,
    config_file: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
    **overrides: Any,
) -> Settings:
    """Build the settings: defaults < techscout.toml < TECHSCOUT_* environment < explicit arguments."""
    env = os.environ if env is None else env
    values: dict[str, Any] = {}
    origin: dict[str, str] = {}

    data_hint = str(data) if data else env.get("TECHSCOUT_DATA") or _BY_NAME["data"].default
    candidates = []
    if config_file:
        candidates.append(Path(config_file))
    elif env.get("TECHSCOUT_CONFIG"):
        candidates.append(Path(env["TECHSCOUT_CONFIG"]))
    else:
        candidates += [Path("techscout.toml"), Path(data_hint) / "techscout.toml"]
    for path in candidates:
        if not path.is_file():
            if config_file or (path == candidates[0] and env.get("TECHSCOUT_CONFIG")):
                raise ConfigError(f"{path}: configuration file not found")
            continue
        try:
            doc = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: not valid TOML: {exc}") from None
        except OSError as exc:
            raise ConfigError(f"{path}: cannot be read: {exc.strerror or exc}") from None
        table = doc.get("techscout", doc)
        if not isinstance(table, dict):
            raise ConfigError(f"{path}: [techscout] must be a table")
        for key, value in table.items():
            if key not in _BY_NAME:
                raise ConfigError(f"{path}: unknown key {key!r} (known keys: {', '.join(sorted(_BY_NAME))})")
            values[key] = _coerce(_BY_NAME[key], value, f"{path}: key {key!r}")
            origin[key] = str(path)
        break

    for s in SETTINGS:
        if s.env in env and env[s.env] != "":
            values[s.name] = _coerce(s, env[s.env], f"environment variable {s.env}")
            origin[s.name] = s.env
    for key, value in overrides.items():
        if value is None:
            continue
        if key not in _BY_NAME:
            raise ConfigError(f"unknown setting {key!r}")
        values[key] = _coerce(_BY_NAME[key], value, f"option --{key.replace('_', '-')}")
        origin[key] = "command line"
    if data:
        values["data"] = str(data)
        origin["data"] = "command line"
    settings = Settings(**values)
    settings.origin = origin
    return settings

