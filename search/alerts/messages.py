"""Alert messages: the templates (``templates/``) rendered for one item, a digest or a need-achievement match.

E-mail gets the HTML template (Apprise adds the plain-text alternative); every other channel gets the plain
text. Every message carries its delivery id (the idempotency key of the delivery log) in its body text.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

TEMPLATES = Path(__file__).parent / "templates"


@dataclass
class Message:
    """One rendered notification: title, plain text, HTML and the delivery id it carries."""

    title: str
    text: str
    html: str
    delivery_id: str


@lru_cache(maxsize=1)
def _env() -> Any:
    import jinja2

    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html",), default_for_string=False),
        trim_blocks=False,
        keep_trailing_newline=True,
    )


def plain_snippet(snippet_html: str) -> str:
    """The text of a search snippet (``<mark>`` removed, entities decoded)."""
    return html.unescape(re.sub(r"</?mark>", "", snippet_html))


def _prepare(items: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for item in items:
        d = dict(item)
        if not d.get("title"):
            d["title"] = d.get("url", "")
        d["source_label"] = d.get("outlet") or d.get("source") or ""
        d["snippet_html"] = d.get("snippet_html") or ""
        d["snippet"] = plain_snippet(d["snippet_html"]) if d["snippet_html"] else d.get("snippet", "")
        d.setdefault("matched_terms", [])
        out.append(d)
    return out


def render(kind: str, items: Sequence[Mapping[str, Any]], delivery_id: str, **context: Any) -> Message:
    """Render the ``kind`` template (``item``, ``digest`` or ``need``) for ``items``.

    Items are mappings with ``title``, ``url``, ``source``/``outlet``, ``published``, ``snippet_html`` and
    optionally ``matched_terms``."""
    prepared = _prepare(items)
    name = str(context.get("subscription") or context.get("need") or "")
    if kind == "digest":
        title = f"【{name}】{context.get('period', '')}汇总：{len(prepared)} 条新成果"
    elif kind == "need":
        first = prepared[0]["title"] if prepared else ""
        title = f"【需求对接】{first}"[:120]
    else:
        first = prepared[0]["title"] if prepared else ""
        title = f"【{name}】{first}"[:120]
    env = _env()
    ctx = {**context, "items": prepared, "delivery_id": delivery_id, "title": title}
    text = env.get_template(f"{kind}.txt").render(**ctx)
    body_html = env.get_template(f"{kind}.html").render(**ctx)
    return Message(title=title, text=text.strip() + "\n", html=body_html, delivery_id=delivery_id)
