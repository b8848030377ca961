"""What the web calls in other parts of techscout, each in one place:

* :func:`validate_subscription` — the one validation of subscriptions (``search.alerts``), used by the web form
  and the API alike;
* :func:`crawl_now` / :func:`is_running` — the one crawl launcher (``crawlers.launch``), used by 立即抓取.

Until those homes exist on main (they are being written beside this), the stand-ins of
``search/web/_standins.py`` keep the web working with the same signatures; they are deleted when the real ones
land, and only the imports below change.
"""

from __future__ import annotations

try:  # the one home, once it lands
    from search.alerts import validate_subscription  # type: ignore[attr-defined,unused-ignore]
except ImportError:  # stand-in until search.alerts.validate_subscription lands
    from search.web._standins import validate_subscription

try:
    from crawlers.launch import crawl_now, is_running  # type: ignore[import-not-found,unused-ignore]
except ImportError:  # stand-in until crawlers.launch lands
    from search.web._standins import crawl_now, is_running

__all__ = ["crawl_now", "is_running", "validate_subscription"]
