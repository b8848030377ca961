"""Delivery channels and message templates for alerts.

Messages go out through `Apprise <https://github.com/caronc/apprise>`_ URLs: ``mailto://`` / ``mailtos://``
(SMTP), ``json://`` / ``jsons://`` webhooks, ``dingtalk://``, ``wecombot://``, ``feishu://`` / ``lark://`` bots
and everything else Apprise knows. E-mail gets the HTML template (Apprise adds the plain-text alternative);
every other channel gets the plain-text template.

Every message carries its delivery id, the idempotency key of the delivery log: in the body text (all
channels), as the ``X-Techscout-Delivery`` header (webhooks and e-mail) and as the ``delivery_id`` field of a
``json://`` payload, so a receiver can drop the rare resend after a crash.
"""

from __future__ import annotations

import hashlib
import html
import ipaddress
import re
import socket
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from core.errors import UrlError

TEMPLATES = Path(__file__).parent / "alerts_templates"
DELIVERY_HEADER = "X-Techscout-Delivery"
HTML_SCHEMES = frozenset({"mailto", "mailtos"})
HEADER_SCHEMES = frozenset({"mailto", "mailtos", "json", "jsons", "xml", "xmls", "form", "forms"})
JSON_SCHEMES = frozenset({"json", "jsons"})
HTTP_SCHEMES = frozenset({"json", "jsons", "xml", "xmls", "form", "forms"})



@dataclass
class Message:
    """One rendered notification: title, plain text, HTML and the delivery id it carries."""

    title: str
    text: str
    html: str
    delivery_id: str


@dataclass
class SendOutcome:
    """Result of delivering one message to several channels."""

    ok: bool
    attempts: int
    channels: dict[str, str] = field(default_factory=dict)  # channel key -> "sent" | "failed"
    errors: dict[str, str] = field(default_factory=dict)  # channel key -> last error


# ----------------------------------------------------------------------------------------------------------
# templates
# ----------------------------------------------------------------------------------------------------------
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


# ----------------------------------------------------------------------------------------------------------
# URLs
# ----------------------------------------------------------------------------------------------------------
def scheme_of(url: str) -> str:
    return url.split("://", 1)[0].lower() if "://" in url else ""


def channel_key(url: str) -> str:
    """A short stable key for a channel URL (the log shows keys, not secrets in URLs)."""
    return hashlib.sha1(url.encode("utf-8")).hexdigest()[:10]


def redact(url: str) -> str:
    """The URL without credentials or query string, for logs."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host += f":{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path if scheme_of(url) in HTTP_SCHEMES else "", "", ""))


def _is_private_host(host: str) -> bool:
    try:
        addrs = [ipaddress.ip_address(host)]
    except ValueError:
        if host.lower() in ("localhost", "localhost.localdomain"):
            return True
        try:
            infos = socket.getaddrinfo(host, None)
        except OSError:
            return False  # unresolvable now: the send will fail and be retried
        addrs = [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]
    return any(
        a.is_private or a.is_loopback or a.is_link_local or a.is_reserved or a.is_unspecified for a in addrs
    )


def check_notify_url(url: str, allow_private: bool = False) -> str:
    """Validate an Apprise URL; webhooks to private/loopback addresses need ``allow_private``."""
    import apprise

    url = url.strip()
    if "://" not in url:
        raise UrlError(
            f"not a notification URL: {url!r} (e.g. mailto://user:pass@smtp.example.com, json://host/path)"
        )
    if apprise.Apprise.instantiate(url) is None:
        raise UrlError(f"unsupported or malformed notification URL: {redact(url)}")
    if scheme_of(url) in HTTP_SCHEMES and not allow_private:
        host = urlsplit(url).hostname or ""
        if _is_private_host(host):
            raise UrlError(
                f"webhook {redact(url)} is on a private or loopback address (set allow_private_urls to allow it)"
            )
    return url


def url_for_delivery(url: str, delivery_id: str) -> str:
    """The channel URL with the delivery id added as a header / payload field where the channel supports it."""
    scheme = scheme_of(url)
    if scheme not in HEADER_SCHEMES:
        return url
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    query.append((f"+{DELIVERY_HEADER}", delivery_id))
    if scheme in JSON_SCHEMES:
        query.append((":delivery_id", delivery_id))
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query, safe=":+@/"), parts.fragment))


# ----------------------------------------------------------------------------------------------------------
# sending
# ----------------------------------------------------------------------------------------------------------
def send_once(url: str, message: Message, *, allow_private: bool = False) -> tuple[bool, str]:
    """One attempt to deliver ``message`` to one Apprise URL. Returns (ok, error text)."""
    import logging

    import apprise

    try:
        check_notify_url(url, allow_private)
    except UrlError as exc:
        return False, str(exc)
    obj = apprise.Apprise()
    if not obj.add(url_for_delivery(url, message.delivery_id)):
        return False, f"unsupported or malformed notification URL: {redact(url)}"
    is_html = scheme_of(url) in HTML_SCHEMES
    with apprise.LogCapture(level=logging.WARNING) as captured:
        ok = bool(
            obj.notify(
                body=message.html if is_html else message.text,
                title=message.title,
                body_format=apprise.NotifyFormat.HTML if is_html else apprise.NotifyFormat.TEXT,
            )
        )
        log_text = captured.getvalue() if hasattr(captured, "getvalue") else ""
    if ok:
        return True, ""
    lines = [ln.strip() for ln in str(log_text).splitlines() if ln.strip()]
    return False, (lines[-1] if lines else "delivery failed")[-500:]


def deliver(
    urls: Iterable[str],
    message: Message,
    *,
    tries: int = 3,
    backoff: float = 1.0,
    allow_private: bool = False,
    done: Iterable[str] = (),
    sleep: Callable[[float], None] = time.sleep,
    sender: Callable[..., tuple[bool, str]] | None = None,
) -> SendOutcome:
    """Deliver ``message`` to every URL not yet done (``done``: channel keys), retrying failures up to
    ``tries`` times with exponential backoff (``backoff``, 2×``backoff``, …). A channel that succeeded is never
    sent the message again."""
    send = sender or send_once
    pending = {channel_key(u): u for u in urls if channel_key(u) not in set(done)}
    outcome = SendOutcome(ok=True, attempts=0)
    for key in done:
        outcome.channels[key] = "sent"
    for attempt in range(max(1, tries)):
        if not pending:
            break
        if attempt:
            sleep(backoff * 2 ** (attempt - 1))
        outcome.attempts += 1
        for key, url in list(pending.items()):
            ok, error = send(url, message, allow_private=allow_private)
            if ok:
                outcome.channels[key] = "sent"
                outcome.errors.pop(key, None)
                del pending[key]
            else:
                outcome.channels[key] = "failed"
                outcome.errors[key] = f"{redact(url)}: {error}"
    outcome.ok = not pending
    return outcome
