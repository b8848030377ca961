"""Small values read from text the same way everywhere: booleans, identifiers."""

from __future__ import annotations

import re
from typing import Any

TRUE = frozenset({"1", "true", "yes", "on"})
FALSE = frozenset({"0", "false", "no", "off", ""})

#: identifiers chosen by users (subscription ids, source names): letters, digits, ``-``, ``_``, ``.``
SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def parse_bool(value: Any) -> bool:
    """``True``/``False`` from a bool or its text (``1 true yes on`` / ``0 false no off``, any case).

    Raises ValueError for anything else, so a typo is never read as false."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    text = str(value).strip().lower()
    if text in TRUE:
        return True
    if text in FALSE:
        return False
    raise ValueError(f"expected true or false, got {value!r}")


def is_safe_id(value: str) -> bool:
    """Whether ``value`` may be used as an id in URLs and file names."""
    return bool(SAFE_ID.match(value))
