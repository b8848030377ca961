"""What the web calls in other parts of techscout, each in one place:

* :func:`validate_subscription` — the one validation of subscriptions (``search.alerts``), used by the web form
  and the API alike;
* :func:`crawl_now` / :func:`is_running` — the one crawl launcher (``crawlers.launch``), used by 立即抓取.
"""

from __future__ import annotations

from crawlers.launch import crawl_now, is_running
from search.alerts import validate_subscription

__all__ = ["crawl_now", "is_running", "validate_subscription"]
