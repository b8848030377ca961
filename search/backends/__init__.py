"""Search backends. :func:`open_backend` returns the one the settings name."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from core.settings import Settings
    from search.backends.base import Backend


def open_backend(settings: Settings) -> Backend:
    if settings.backend in ("elasticsearch", "opensearch"):
        from search.backends.elastic import ElasticBackend

        return ElasticBackend.from_settings(settings)
    from search.backends.embedded import EmbeddedBackend

    return EmbeddedBackend.from_settings(settings)
