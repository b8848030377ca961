"""What the web calls in other parts of techscout, each in one place:

* :func:`validate_subscription` — the one validation of subscriptions (``search.alerts``), used by the web form
  and the API alike;
* :func:`crawl_now` / :func:`is_running` — the one crawl launcher (``crawlers.launch``), used by 立即抓取.

Until the launcher exists on main (it is being written beside this), the stand-in of
``search/web/_standins.py`` keeps the web working with the same signature; it is deleted when the real one
lands, and only the import below changes.
"""

from __future__ import annotations

from search.alerts import validate_subscription

try:
    from crawlers.launch import crawl_now, is_running  # type: ignore[import-not-found,unused-ignore]
except ImportError:  # stand-in until crawlers.launch lands
    from search.web._standins import crawl_now, is_running

__all__ = ["crawl_now", "is_running", "validate_subscription"]
