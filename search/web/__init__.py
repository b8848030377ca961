"""The staff web UI and JSON API (FastAPI, server-rendered Jinja2 pages). See ``docs/web.md``."""

from search.web.app import create_app

__all__ = ["create_app"]
