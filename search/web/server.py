"""Serving the web UI and API with uvicorn: in the foreground (``serve``) or beside the scheduler (``run``)."""

from __future__ import annotations

import threading
from typing import Any

from core.settings import Settings


def _server(settings: Settings, *, access_log: bool = False, log_level: str | None = None) -> Any:
    import uvicorn

    from search.web.app import create_app

    config = uvicorn.Config(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level=(log_level or settings.log_level).lower(),
        access_log=access_log,
    )
    return uvicorn.Server(config)


def url_of(settings: Settings) -> str:
    """The address staff open in a browser."""
    return f"http://{settings.host}:{settings.port}/"


def serve(settings: Settings, *, access_log: bool = False) -> None:
    """Serve in the foreground until interrupted."""
    _server(settings, access_log=access_log).run()


def serve_in_thread(settings: Settings) -> threading.Thread:
    """Serve in a daemon thread beside the scheduler (``techscout run``)."""
    server = _server(settings, log_level="warning")
    thread = threading.Thread(target=server.run, name="web", daemon=True)
    thread.start()
    return thread
