"""Delivery channels: which notification URLs are accepted, the outbound guard on every connection, sending.

Messages go out through `Apprise <https://github.com/caronc/apprise>`_ plugins, for the channels README promises
and no others (:data:`CHANNELS`):

* e-mail — ``mailto://`` / ``mailtos://`` (SMTP);
* webhooks — ``json://`` / ``jsons://`` (also ``xml``/``form``); a plain ``http(s)://`` URL is stored as the
  ``json(s)://`` URL Apprise delivers to (a JSON POST);
* DingTalk ``dingtalk://TOKEN/`` (钉钉), WeCom ``wecombot://KEY`` (企业微信), Feishu ``feishu://TOKEN/`` (飞书) and
  Lark ``lark://TOKEN/``; the bot webhook URLs these services hand out
  (``https://oapi.dingtalk.com/robot/send?access_token=…`` …) are stored in that form.

:func:`normalize_url` is the one check of a notification URL (the CLI, the API, the web form and every send call
it): the URL is parsed once by :func:`core.netguard.parse_url`, its scheme must be on the list, and the host the
channel connects to — the URL's host for e-mail and webhooks, the service's API host for the IM bots — must not
be private or loopback unless ``allow_private_urls`` is set.

Sending checks again where it matters, at the connection: inside :func:`guarded`, every host name a plugin
resolves (each redirect hop, each SMTP connection) is resolved once by :func:`core.netguard.resolve`, which
returns only checked addresses, and the connection goes to one of those — there is no second DNS lookup between
the check and the send. Redirects are never followed (a 3xx answer fails the delivery and says where it
pointed). DingTalk and WeCom answer a refused or rate-limited message with HTTP 200 and a non-zero ``errcode``:
that answer is a failure here (Apprise's plugins would count it as sent), a rate limit a retryable one.
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import json
import logging
import re
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from core import netguard
from core.errors import BlockedUrl, UrlError

DELIVERY_HEADER = "X-Techscout-Delivery"
#: seconds to connect to a receiver and to wait for its answer (per attempt)
CONNECT_TIMEOUT = 5.0
READ_TIMEOUT = 10.0


@dataclass(frozen=True)
class Channel:
    """One accepted kind of notification URL."""

    kind: str  # email | webhook | dingtalk | wecom | feishu | lark
    label: str  # shown to staff
    api: str = ""  # the service's API URL for IM bots (the host they connect to); "" = the URL's own host
    html: bool = False  # gets the HTML template (e-mail) instead of plain text
    headers: bool = False  # takes extra HTTP/SMTP headers (``+Header=value`` arguments)
    json_fields: bool = False  # takes extra JSON payload fields (``:field=value`` arguments)


CHANNELS: dict[str, Channel] = {
    "mailto": Channel("email", "电子邮件", html=True, headers=True),
    "mailtos": Channel("email", "电子邮件", html=True, headers=True),
    "json": Channel("webhook", "Webhook（JSON）", headers=True, json_fields=True),
    "jsons": Channel("webhook", "Webhook（JSON）", headers=True, json_fields=True),
    "xml": Channel("webhook", "Webhook（XML）", headers=True),
    "xmls": Channel("webhook", "Webhook（XML）", headers=True),
    "form": Channel("webhook", "Webhook（表单）", headers=True),
    "forms": Channel("webhook", "Webhook（表单）", headers=True),
    "dingtalk": Channel("dingtalk", "钉钉机器人", api="https://oapi.dingtalk.com/robot/send"),
    "wecombot": Channel("wecom", "企业微信机器人", api="https://qyapi.weixin.qq.com/cgi-bin/webhook/send"),
    "feishu": Channel("feishu", "飞书机器人", api="https://open.feishu.cn/open-apis/bot/v2/hook/"),
    "lark": Channel("lark", "Lark 机器人", api="https://open.larksuite.com/open-apis/bot/v2/hook/"),
}
#: the bot webhook URLs the IM services hand out, and the Apprise URL each becomes
_VENDOR_URLS = (
    (re.compile(r"^https?://oapi\.dingtalk\.com/robot/send/?\?(?:.*&)?access_token=([A-Za-z0-9]+)", re.I), "dingtalk://{}/"),
    (re.compile(r"^https?://qyapi\.weixin\.qq\.com/cgi-bin/webhook/send/?\?(?:.*&)?key=([A-Za-z0-9_-]+)", re.I), "wecombot://{}"),
    (re.compile(r"^https?://open\.feishu\.cn/open-apis/bot/v2/hook/([A-Za-z0-9_-]+)/?$", re.I), "feishu://{}/"),
    (re.compile(r"^https?://open\.larksuite\.com/open-apis/bot/v2/hook/([A-Za-z0-9_-]+)/?$", re.I), "lark://{}/"),
)
EXAMPLES = (
    "mailto://用户:密码@smtp.example.com?to=staff@example.com、https://hooks.example.com/path、"
    "https://oapi.dingtalk.com/robot/send?access_token=…、wecombot://KEY、feishu://TOKEN/"
)
# answers of the IM bot APIs (HTTP 200 with a code) that mean "too many messages, try later"
_RATE_LIMIT_CODES = {"130101", "45009", "11232"}


def _fail(message: str) -> UrlError:
    return UrlError(f"通知地址: {message}")


def scheme_of(url: str) -> str:
    return url.split("://", 1)[0].strip().lower() if "://" in url else ""


def channel_of(url: str) -> Channel | None:
    return CHANNELS.get(scheme_of(url))


def channel_key(url: str) -> str:
    """A short stable key for a channel URL (the log shows keys, not the secrets in URLs)."""
    return hashlib.sha1(url.encode("utf-8")).hexdigest()[:10]


def redact(url: str) -> str:
    """The URL without credentials, tokens or query, for logs and messages; never raises (a stored URL may be
    malformed)."""
    scheme = scheme_of(url) or "?"
    channel = CHANNELS.get(scheme)
    if channel is not None and channel.api:
        return f"{scheme}://…（{channel.label}）"
    try:
        return netguard.parse_url(url, field="notify").redacted()
    except UrlError:
        return f"{scheme}://…（无效地址）"


def _connect_target(url: str, channel: Channel) -> str:
    """The URL whose host the channel connects to."""
    return channel.api or url


def normalize_url(url: object, *, allow_private: bool, resolve_names: bool = True) -> str:
    """The stored form of a notification URL, checked; a :class:`UrlError` saying what is wrong otherwise.

    ``http(s)://`` URLs become the IM bot or ``json(s)://`` URL Apprise delivers to."""
    if not isinstance(url, str):
        raise _fail(f"应为文本，收到 {type(url).__name__}")
    raw = url.strip()
    if not raw:
        raise _fail("为空")
    if "://" not in raw:
        raise _fail(f"不是通知地址 {raw[:80]!r}（例如 {EXAMPLES}）")
    scheme = scheme_of(raw)
    if scheme in ("http", "https"):
        try:
            netguard.parse_url(raw, field="notify")  # malformed: says so before anything else
        except UrlError as exc:
            raise _fail(str(exc).removeprefix("notify: ")) from None
        for pattern, form in _VENDOR_URLS:
            m = pattern.match(raw)
            if m:
                raw = form.format(m.group(1))
                break
        else:
            raw = ("jsons" if scheme == "https" else "json") + raw[len(scheme) :]
        scheme = scheme_of(raw)
    channel = CHANNELS.get(scheme)
    if channel is None:
        kinds = "、".join(dict.fromkeys(f"{c.label}（{s}://）" for s, c in CHANNELS.items()))
        raise _fail(f"不支持 {scheme}:// 地址；可用：{kinds}")
    if channel.api:
        # the URL names a bot (its token is no host); the connection goes to the service's API host
        _check_host(channel.api, allow_private=allow_private, resolve_names=resolve_names)
    else:
        _check_host(raw, allow_private=allow_private, resolve_names=resolve_names)
    if _instantiate(raw) is None:
        raise _fail(f"{channel.label}地址格式不对：{redact(raw)}（例如 {EXAMPLES}）")
    return raw


def _check_host(url: str, *, allow_private: bool, resolve_names: bool) -> None:
    try:
        netguard.check_url(
            url, allow_private=allow_private, field="notify", resolve_names=resolve_names
        )
    except BlockedUrl as exc:
        why = str(exc).removeprefix("notify: ")
        raise BlockedUrl(f"通知地址: {why}（只有设置 allow_private_urls 时才允许内网和本机地址）") from None
    except UrlError as exc:
        raise _fail(str(exc).removeprefix("notify: ")) from None


def _instantiate(url: str) -> Any:
    import apprise

    with contextlib.suppress(Exception):
        return apprise.Apprise.instantiate(url)
    return None


def url_for_delivery(url: str, delivery_id: str) -> str:
    """The channel URL as sent: the delivery id as a header / payload field where the channel takes them, the
    per-receiver timeouts, and redirects off."""
    channel = channel_of(url)
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    keys = {k for k, _ in query}
    if channel is not None and channel.headers:
        query.append((f"+{DELIVERY_HEADER}", delivery_id))
    if channel is not None and channel.json_fields:
        query.append((":delivery_id", delivery_id))
    for key, value in (("cto", CONNECT_TIMEOUT), ("rto", READ_TIMEOUT), ("redirect", "no")):
        if key not in keys:
            query.append((key, str(value)))
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query, safe=":+@/"), parts.fragment))


# ----------------------------------------------------------------------------------------------------------
# the guard at the connection
# ----------------------------------------------------------------------------------------------------------
@dataclass
class _Guard:
    """The outbound guard of one send (held in a context variable, so that it follows the send into the worker
    threads Apprise runs plugins in: Apprise submits them with a copy of the caller's context)."""

    allow_private: bool
    im: bool = False  # an IM bot API: "HTTP 200 + errcode" answers are refusals
    answers: list[str] = field(default_factory=list)
    blocked: str = ""
    retry_after: float | None = None


_STATE: contextvars.ContextVar[_Guard | None] = contextvars.ContextVar("techscout_outbound_guard", default=None)
_RESOLVING = threading.local()  # the guard's own lookup (netguard's resolver calls getaddrinfo) passes through
_INSTALL = threading.Lock()
_original_getaddrinfo = socket.getaddrinfo


def _guarded_getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
    """``socket.getaddrinfo`` for a thread inside :func:`guarded`: the host resolved once through the outbound
    guard, and only its checked addresses handed to the connection."""
    g = _STATE.get()
    if g is None or getattr(_RESOLVING, "on", False) or host is None:
        return _original_getaddrinfo(host, port, *args, **kwargs)
    name = host.decode() if isinstance(host, bytes) else str(host)
    _RESOLVING.on = True
    try:
        try:
            addresses = netguard.resolve(name, int(port or 0), allow_private=g.allow_private)
        except BlockedUrl as exc:
            g.blocked = str(exc)
            raise OSError(f"blocked by the outbound guard: {exc}") from None
        except UrlError as exc:
            raise socket.gaierror(socket.EAI_NONAME, str(exc)) from None
        out = []
        for address in addresses:
            out.extend(_original_getaddrinfo(address, port, *args, **kwargs))
        return out
    finally:
        _RESOLVING.on = False


def _install() -> None:
    with _INSTALL:
        if socket.getaddrinfo is not _guarded_getaddrinfo:
            socket.getaddrinfo = _guarded_getaddrinfo
        _install_response_check()


@contextlib.contextmanager
def guarded(*, allow_private: bool, im: bool = False) -> Iterator[_Guard]:
    """Within this block (in this thread) every connection's host is resolved and checked by the outbound
    guard, and the checked address is the one connected to."""
    _install()
    g = _Guard(allow_private=allow_private, im=im)
    token = _STATE.set(g)
    try:
        yield g
    finally:
        _STATE.reset(token)


_RESPONSE_CHECK: list[bool] = []


def _install_response_check() -> None:
    """Wrap ``requests``' adapter once: inside :func:`guarded`, remember each answer (status and the start of the
    body) for the error text, refuse redirects, and turn the IM APIs' "HTTP 200 + errcode" refusals into
    failures (429 for a rate limit, 400 otherwise)."""
    if _RESPONSE_CHECK:
        return
    from requests.adapters import HTTPAdapter

    original = HTTPAdapter.send

    def send(self: Any, request: Any, *args: Any, **kwargs: Any) -> Any:
        response = original(self, request, *args, **kwargs)
        g = _STATE.get()
        if g is None:
            return response
        status = int(response.status_code)
        body = (response.content or b"")[:300].decode("utf-8", "replace")
        if 300 <= status < 400:
            where = response.headers.get("Location", "")[:120]
            g.answers.append(f"接收方返回跳转 HTTP {status} → {where}（不跟随跳转）")
        elif status == 200 and g.im:
            data = _json_or_none(response.content)
            code = data.get("errcode", data.get("code")) if isinstance(data, dict) else None
            if code not in (None, 0, "0"):
                limited = str(code) in _RATE_LIMIT_CODES
                response.status_code = 429 if limited else 400
                message = str(data.get("errmsg") or data.get("msg") or "")[:120]
                g.answers.append(f"接收方{'限流' if limited else '拒收'}：code={code} {message}".strip())
            else:
                g.answers.append("HTTP 200")
        else:
            if status == 429:
                with contextlib.suppress(TypeError, ValueError):
                    g.retry_after = float(str(response.headers.get("Retry-After")))
            g.answers.append(f"HTTP {status} {body[:160]}".strip())
        return response

    HTTPAdapter.send = send  # type: ignore[method-assign]
    _RESPONSE_CHECK.append(True)


def _json_or_none(content: bytes | None) -> Any:
    try:
        return json.loads(content or b"")
    except ValueError:
        return None


# ----------------------------------------------------------------------------------------------------------
# sending
# ----------------------------------------------------------------------------------------------------------
@dataclass
class Attempt:
    """The outcome of one attempt to deliver a message to one channel."""

    ok: bool
    error: str = ""
    retry_after: float | None = None  # the receiver asked to wait (rate limit); seconds, when it said
    permanent: bool = False  # retrying cannot help (bad URL, blocked address)


def send_once(url: str, title: str, text: str, html: str, delivery_id: str, *, allow_private: bool) -> Attempt:
    """One attempt to deliver a message to one notification URL; never raises."""
    import apprise

    try:  # a URL stored by an older version (a raw http(s) webhook …) is sent in the form Apprise delivers
        url = normalize_url(url, allow_private=allow_private, resolve_names=False)
    except UrlError as exc:
        return Attempt(False, str(exc), permanent=True)
    channel = channel_of(url)
    # in this thread (no Apprise worker threads): the guard is per thread, and receivers are already served in
    # parallel by the caller
    obj = apprise.Apprise(asset=apprise.AppriseAsset(async_mode=False))
    if not obj.add(url_for_delivery(url, delivery_id)):
        return Attempt(False, f"通知地址无法使用：{redact(url)}", permanent=True)
    is_html = bool(channel and channel.html)
    im = bool(channel and channel.api)
    with guarded(allow_private=allow_private, im=im) as g, apprise.LogCapture(level=logging.WARNING) as captured:
        try:
            ok = bool(
                obj.notify(
                    body=html if is_html else text,
                    title=title,
                    body_format=apprise.NotifyFormat.HTML if is_html else apprise.NotifyFormat.TEXT,
                )
            )
        except Exception as exc:  # a plugin's own failure is this channel's failure, never the run's
            ok = False
            g.answers.append(f"{type(exc).__name__}: {exc}")
        log_text = captured.getvalue() if hasattr(captured, "getvalue") else ""
        answers, blocked, retry_after = list(g.answers), g.blocked, g.retry_after
    if ok:
        return Attempt(True)
    if blocked:
        return Attempt(False, f"不允许访问：{blocked}", permanent=True)
    lines = [ln.strip() for ln in str(log_text).splitlines() if ln.strip()]
    error = answers[-1] if answers else (lines[-1] if lines else "发送失败")
    limited = bool(answers) and ("限流" in answers[-1] or answers[-1].startswith("HTTP 429"))
    if limited and retry_after is None:
        retry_after = 0.0
    return Attempt(False, error[-500:], retry_after=retry_after if limited else None)
