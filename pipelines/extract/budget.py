"""The per-page budget of the extractor: what a page may cost before it is reported ``too-complex``.

A hostile or broken page (millions of empty ``<div>``s, nesting thousands deep, huge attribute lists, a
20 MB text node) must not stall a crawl or exhaust its memory. Three limits, checked in order of cost:

1. **characters** — the decoded page is cut at ``max_chars`` before parsing (repair
   ``oversized-input-truncated``): a real article never needs more, and libxml2 refuses text nodes over
   10 MB;
2. **markup** — start tags and attributes are counted on the text *before* parsing (a regular expression,
   a few milliseconds for 2 MB); a page over ``max_elements`` or ``max_attributes`` is never parsed, so its
   tree never occupies memory;
3. **CPU time** — :class:`Deadline` is checked between stages and inside the block walk; a page that has
   used ``max_seconds`` of its thread's CPU time is abandoned.

libxml2's own resource limits (nesting deeper than 256, buffers over 10 MB) are reported the same way
instead of silently dropping the rest of the page. Real pages stay far inside: the 332 pages of the corpora
have at most 4,636 start tags and 5,140 attributes.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

from core.errors import PageTooComplex

_START_TAG = re.compile(r"<[A-Za-z]")
_ATTRIBUTE = re.compile(r"""[\s"'/][A-Za-z_:][\w:.\-]*\s*=""")  # quoted or not


@dataclass(frozen=True)
class PageBudget:
    """Limits of one page's extraction (see the module doc)."""

    max_chars: int = 2_000_000
    max_elements: int = 60_000
    max_attributes: int = 60_000
    max_seconds: float = 10.0


DEFAULT_BUDGET = PageBudget()
UNLIMITED = PageBudget(max_chars=10**12, max_elements=10**12, max_attributes=10**12, max_seconds=float("inf"))


def check_markup(html: str, budget: PageBudget) -> None:
    """Raise :class:`PageTooComplex` when the page has more start tags or attributes than the budget allows."""
    # str.count gives upper bounds at memory speed; the exact count is taken only when a bound is exceeded
    if html.count("<") > budget.max_elements:
        tags = len(_START_TAG.findall(html))
        if tags > budget.max_elements:
            raise PageTooComplex(f"page too complex: {tags:,} elements (budget {budget.max_elements:,})")
    if html.count("=") > budget.max_attributes:
        attributes = len(_ATTRIBUTE.findall(html))
        if attributes > budget.max_attributes:
            raise PageTooComplex(
                f"page too complex: {attributes:,} attributes (budget {budget.max_attributes:,})"
            )


class Deadline:
    """CPU time of the current thread spent on one page, checked against the budget's ``max_seconds``."""

    __slots__ = ("limit", "start")

    def __init__(self, budget: PageBudget) -> None:
        self.limit = budget.max_seconds
        self.start = time.thread_time()

    def check(self, stage: str) -> None:
        used = time.thread_time() - self.start
        if used > self.limit:
            raise PageTooComplex(
                f"page too complex: {used:.1f} s of CPU time at {stage} (budget {self.limit:g} s)"
            )
