"""techscout's exception tree: every error the product raises on purpose derives from :class:`TechscoutError`."""

from __future__ import annotations


class TechscoutError(Exception):
    """Base of every deliberate techscout error."""


class ConfigError(TechscoutError):
    """A configuration file, source file or setting is wrong; the message names the file and the key."""


class SourceError(ConfigError):
    """A source YAML file is invalid."""


class BackendError(TechscoutError):
    """The search backend could not do what was asked (unreachable, corrupt, write failed)."""


class QueryError(TechscoutError):
    """A search query could not be understood."""


class ExtractionError(TechscoutError):
    """A page could not be turned into an article (empty, binary, not HTML)."""
