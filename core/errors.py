"""techscout's exception tree: every error the product raises on purpose derives from :class:`TechscoutError`.

Each error carries a stable machine-readable ``code`` (used by the JSON API and in logs) besides its message,
which is written for the person who has to act on it (a file and a key, a URL, a command to run).
"""

from __future__ import annotations


class TechscoutError(Exception):
    """Base of every deliberate techscout error."""

    code = "error"


class ConfigError(TechscoutError):
    """A configuration file, source file or setting is wrong; the message names the file and the key."""

    code = "config"


class SourceError(ConfigError):
    """A source YAML file is invalid."""

    code = "source"


class UrlError(TechscoutError):
    """A URL is malformed or of a kind that is not accepted (scheme, host, port)."""

    code = "url"


class BlockedUrl(UrlError):
    """A URL reaches (or resolves to) an address that outbound requests must not reach (private, loopback …)."""

    code = "blocked-private"


class BackendError(TechscoutError):
    """The search backend could not do what was asked (unreachable, corrupt, write failed)."""

    code = "backend"


class QueryError(TechscoutError):
    """A search query could not be understood."""

    code = "query"


class ExtractionError(TechscoutError):
    """A page could not be turned into an article (empty, binary, not HTML, too complex)."""

    code = "extraction"


class PageTooComplex(ExtractionError):
    """A page exceeds the extractor's per-page budget (markup size, elements, nesting, CPU time); the crawl
    counts it and goes on."""

    code = "too-complex"


class DedupError(TechscoutError):
    """The duplicate index could not be read or written."""

    code = "dedup"


class UserError(TechscoutError):
    """A user or token operation is not possible (unknown name, weak password …)."""

    code = "user"


class AlertsError(TechscoutError):
    """An alerts operation cannot be done (e.g. another alerts run holds the lock)."""

    code = "alerts"


class SubscriptionError(AlertsError):
    """A subscription (saved search) is invalid; the message names the field."""

    code = "subscription"


class SchedulerError(TechscoutError):
    """The scheduler cannot start (e.g. another one already runs on the same data directory)."""

    code = "scheduler"


class CrawlBusy(TechscoutError):
    """A crawl of the same source already runs on this data directory."""

    code = "crawl-busy"


class DistributedError(TechscoutError):
    """The shared frontier (Redis) cannot be used."""

    code = "distributed"
