"""The one settings object.

Two layers live here:

* module-level Scrapy keys (``scrapy.cfg`` points at this module), shared by every crawl;
* :class:`Settings`, techscout's own settings, read from ``techscout.toml`` (in the working directory or the data
  directory, or the file named by ``TECHSCOUT_CONFIG``) and overridden by ``TECHSCOUT_*`` environment variables.

Every techscout setting is declared once in :data:`SETTINGS` with its type, default and meaning; the README's
configuration table is checked against it by a test.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from crawlers.errors import ConfigError

# --------------------------------------------------------------------------------------------------------------
# Scrapy settings shared by every crawl (per-source values are set by crawlers.runner)
# --------------------------------------------------------------------------------------------------------------
BOT_NAME = "techscout"
SPIDER_MODULES = ["crawlers.spiders"]
NEWSPIDER_MODULE = "crawlers.spiders"
USER_AGENT = "techscout/0.1 (+https://github.com/techscout; sci-tech resource monitor)"
ROBOTSTXT_OBEY = True
ROBOTSTXT_PARSER = "scrapy.robotstxt.ProtegoRobotParser"
CONCURRENT_REQUESTS = 16
CONCURRENT_REQUESTS_PER_DOMAIN = 2
DOWNLOAD_DELAY = 1.0
RANDOMIZE_DOWNLOAD_DELAY = True
AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_START_DELAY = 1.0
AUTOTHROTTLE_MAX_DELAY = 30.0
AUTOTHROTTLE_TARGET_CONCURRENCY = 1.0
DOWNLOAD_TIMEOUT = 30
DOWNLOAD_MAXSIZE = 20 * 1024 * 1024
DOWNLOAD_WARNSIZE = 5 * 1024 * 1024
RETRY_ENABLED = True
RETRY_TIMES = 2
REDIRECT_MAX_TIMES = 5
DEPTH_LIMIT = 8
COOKIES_ENABLED = False
TELNETCONSOLE_ENABLED = False
LOG_LEVEL = "INFO"
REQUEST_FINGERPRINTER_IMPLEMENTATION = "2.7"
TWISTED_REACTOR = "twisted.internet.asyncioreactor.AsyncioSelectorReactor"
FEED_EXPORT_ENCODING = "utf-8"
HTTPERROR_ALLOW_ALL = False

EXTENSIONS = {
    "crawlers.extensions.CrawlReport": 500,
    "crawlers.health.ExtractionHealth": 510,
}
DOWNLOADER_MIDDLEWARES = {
    "crawlers.middlewares.PolitenessMiddleware": 580,  # after robots.txt (100), sees answers before retry (550)
}
ITEM_PIPELINES = {
    "pipelines.extract.ExtractPipeline": 100,
    "pipelines.normalize.NormalizePipeline": 200,
    "pipelines.spam.SpamPipeline": 300,
    "pipelines.dedup.DedupPipeline": 400,
    "pipelines.classify.ClassifyPipeline": 500,
    "pipelines.route.RoutePipeline": 600,
    "pipelines.store.StorePipeline": 900,
}

PLAYWRIGHT_BROWSER_TYPE = "chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


# --------------------------------------------------------------------------------------------------------------
# techscout settings
# --------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Setting:
    name: str
    type: type
    default: Any
    doc: str

    @property
    def env(self) -> str:
        return "TECHSCOUT_" + self.name.upper()


SETTINGS: tuple[Setting, ...] = (
    Setting("data", str, "./techscout-data", "Data directory: the embedded index, crawl state and logs."),
    Setting("sources", str, "", "Sources directory or one YAML file (default: the shipped `crawlers/sources`)."),
    Setting("backend", str, "embedded", "Search backend: `embedded` (SQLite file in the data directory) or `elasticsearch`."),
    Setting("elasticsearch_url", str, "", "Elasticsearch URL(s), comma-separated, for the `elasticsearch` backend."),
    Setting("elasticsearch_prefix", str, "techscout", "Prefix of every Elasticsearch index and alias name."),
    Setting("redis_url", str, "", "Redis URL; when set, crawls share a frontier and crawl state through Redis."),
    Setting("user_agent", str, USER_AGENT, "User-Agent sent to every site."),
    Setting("delay", float, 1.0, "Default seconds between requests to one site (a source's `delay` overrides it)."),
    Setting("concurrency", int, 2, "Default concurrent requests per site."),
    Setting("max_pages", int, 500, "Default bound on pages fetched per source per crawl."),
    Setting("timeout", int, 30, "Seconds before a request to a site times out."),
    Setting("revisit_days", float, 30.0, "Known article pages are re-checked (conditional GET) after this many days."),
    Setting("schedule", str, "every 6h", "Default schedule of a source without `schedule`."),
    Setting("crawl_timeout", int, 3600, "Seconds after which a scheduled crawl is stopped."),
    Setting("taxonomy", str, "", "Taxonomy YAML replacing the shipped one (content types, domains, regions)."),
    Setting("host", str, "127.0.0.1", "Address the web UI and API listen on."),
    Setting("port", int, 8080, "Port of the web UI and API."),
    Setting("secret_key", str, "", "Secret for session cookies and CSRF tokens (generated into the data directory if empty)."),
    Setting("allow_private_urls", bool, False, "Allow crawl and webhook URLs on private/loopback addresses."),
    Setting("chromium", str, "/usr/bin/chromium", "Chromium executable for `render_js` sources and browser tests."),
    Setting("log_level", str, "INFO", "Log level of crawls and services."),
)


@dataclass
class Settings:
    data: str = "./techscout-data"
    sources: str = ""
    backend: str = "embedded"
    elasticsearch_url: str = ""
    elasticsearch_prefix: str = "techscout"
    redis_url: str = ""
    user_agent: str = USER_AGENT
    delay: float = 1.0
    concurrency: int = 2
    max_pages: int = 500
    timeout: int = 30
    revisit_days: float = 30.0
    schedule: str = "every 6h"
    crawl_timeout: int = 3600
    taxonomy: str = ""
    host: str = "127.0.0.1"
    port: int = 8080
    secret_key: str = ""
    allow_private_urls: bool = False
    chromium: str = "/usr/bin/chromium"
    log_level: str = "INFO"
    origin: dict[str, str] = field(default_factory=dict)  # setting name -> where its value came from

    @property
    def data_dir(self) -> Path:
        return Path(self.data).expanduser()

    @property
    def sources_path(self) -> Path:
        if self.sources:
            return Path(self.sources).expanduser()
        return Path(__file__).parent / "sources"

    def as_env(self) -> dict[str, str]:
        """The settings as TECHSCOUT_* variables, to hand to a crawl subprocess."""
        out = {}
        for s in SETTINGS:
            value = getattr(self, s.name)
            out[s.env] = ("1" if value else "0") if isinstance(value, bool) else str(value)
        return out


_BOOL = {"1": True, "true": True, "yes": True, "on": True, "0": False, "false": False, "no": False, "off": False}


def _coerce(setting: Setting, value: Any, where: str) -> Any:
    try:
        if setting.type is bool:
            if isinstance(value, bool):
                return value
            return _BOOL[str(value).strip().lower()]
        if setting.type is int and isinstance(value, bool):
            raise ValueError
        if setting.type is float and isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        if setting.type is str and not isinstance(value, str):
            raise ValueError
        return setting.type(value)
    except (KeyError, ValueError, TypeError):
        raise ConfigError(
            f"{where}: expected {setting.type.__name__} for {setting.name!r}, got {value!r}"
        ) from None


def load_settings(
    data: str | os.PathLike[str] | None = None,
    config_file: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
    **overrides: Any,
) -> Settings:
    """Build the settings: defaults < techscout.toml < TECHSCOUT_* environment < explicit arguments."""
    env = os.environ if env is None else env
    by_name = {s.name: s for s in SETTINGS}
    values: dict[str, Any] = {}
    origin: dict[str, str] = {}

    data_hint = str(data) if data else env.get("TECHSCOUT_DATA") or by_name["data"].default
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
        table = doc.get("techscout", doc)
        for key, value in table.items():
            if key not in by_name:
                raise ConfigError(
                    f"{path}: unknown key {key!r} (known keys: {', '.join(sorted(by_name))})"
                )
            values[key] = _coerce(by_name[key], value, f"{path}: key {key!r}")
            origin[key] = str(path)
        break

    for s in SETTINGS:
        if s.env in env and env[s.env] != "":
            values[s.name] = _coerce(s, env[s.env], f"environment variable {s.env}")
            origin[s.name] = s.env
    for key, value in overrides.items():
        if value is None:
            continue
        if key not in by_name:
            raise ConfigError(f"unknown setting {key!r}")
        values[key] = _coerce(by_name[key], value, f"option --{key.replace('_', '-')}")
        origin[key] = "command line"
    if data:
        values["data"] = str(data)
        origin["data"] = "command line"
    settings = Settings(**values)
    settings.origin = origin
    if settings.backend not in ("embedded", "elasticsearch"):
        raise ConfigError(
            f"{origin.get('backend', 'backend')}: backend must be 'embedded' or 'elasticsearch', got {settings.backend!r}"
        )
    return settings


def setting_names() -> list[str]:
    return [f.name for f in fields(Settings) if f.name != "origin"]
