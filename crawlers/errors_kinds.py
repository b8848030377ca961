"""The kinds of crawl errors and of pages not stored: stable names (the run records and the JSON API carry them)
and their Chinese labels (what staff read in the web UI). One table; the crawler, the CLI and the web use it.

* **Errors** are requests that brought no page: ``dns``, ``timeout``, ``connection-refused``, ``http-404`` …
  (:func:`kind_of` names the kind of any failure — Twisted's, Scrapy's, the browser's ``net::ERR_…`` — never by an
  exception's class name).
* **Not stored** are pages that were fetched but gave no document: an empty body, a page taken for a list, a
  duplicate, a page over the budget … (:func:`drop_kind` names the reason a pipeline stage gave).

``label(kind)`` is the Chinese label of any kind (``http-503`` → ``HTTP 503（服务暂不可用）``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Kind:
    name: str
    label: str  # Chinese, for staff
    doc: str  # English, for the docs and the CLI


ERROR_KINDS: tuple[Kind, ...] = (
    Kind("dns", "域名无法解析", "the host name does not resolve"),
    Kind("timeout", "请求超时", "the site did not answer in time (`timeout` setting)"),
    Kind("connection-refused", "连接被拒绝", "nothing listens at the site's address"),
    Kind("connection", "连接中断", "the connection failed or was closed before the answer was complete"),
    Kind("tls", "加密连接失败", "the TLS handshake failed (certificate, protocol)"),
    Kind("robots", "robots.txt 禁止抓取", "the site's robots.txt forbids the URL"),
    Kind("redirect-loop", "重定向循环", "redirects lead back to a URL already requested, or exceed 5 hops"),
    Kind("off-site", "跳转到站外", "the page redirected to a host outside the source's `allowed_domains`"),
    Kind("too-large", "页面过大", "the page (decompressed) is larger than the per-page budget"),
    Kind("blocked-private", "内网或本机地址（已拦截）",
         "the URL or a redirect hop reaches a private, loopback or reserved address (`allow_private_urls`)"),
    Kind("invalid-url", "网址无效", "the URL cannot be requested (malformed, unsupported scheme)"),
    Kind("not-html", "不是网页", "the answer is not an HTML page, feed or sitemap (image, archive, binary)"),
    Kind("http", "HTTP 错误", "the site answered with an error status (`http-<status>`)"),
    Kind("crawl-crashed", "抓取进程崩溃", "the crawl process ended without recording its run"),
    Kind("crawl-killed", "抓取进程被终止", "the crawl process was killed before it could close"),
    Kind("not-started", "抓取未能开始", "the crawl could not start (see the crawl log)"),
    Kind("store-failed", "写入索引失败", "documents could not be written to the store (corrupt, full, locked)"),
    Kind("error", "其他错误", "an error of another kind (see the crawl log)"),
)

NOT_STORED_KINDS: tuple[Kind, ...] = (
    Kind("empty-body", "正文为空", "no article body was found on the page"),
    Kind("list-page", "被识别为列表页", "the page was read as a list of links, not as an article"),
    Kind("duplicate", "重复页面", "the same text as a document of the same source"),
    Kind("too-complex", "页面过于复杂", "the page exceeds the extractor's budget (elements, time)"),
    Kind("not-html", "不是网页", "the answer is not an HTML page"),
    Kind("store-failed", "写入索引失败", "fetched and extracted, but the store write failed (fetched again next time)"),
    Kind("not-modified", "未更改（304）", "the page did not change since the last crawl"),
    Kind("pipeline-error", "处理出错", "a processing stage failed on the page (see the crawl log)"),
    Kind("dropped", "未收录", "a processing stage dropped the page"),
)

_HTTP_REASONS = {
    400: "请求无效", 401: "需要登录", 403: "禁止访问", 404: "页面不存在", 405: "方法不允许", 408: "请求超时",
    410: "页面已删除", 429: "请求过多", 500: "服务器内部错误", 502: "网关错误", 503: "服务暂不可用",
    504: "网关超时",
}
_BY_NAME = {k.name: k for k in (*ERROR_KINDS, *NOT_STORED_KINDS)}
_HTTP = re.compile(r"^http-(\d{3})$")
_NET_ERROR = re.compile(r"net::(ERR_[A-Z0-9_]+)")
#: the browser's network errors (Chromium ``net::ERR_…``) by kind
_BROWSER = {
    "dns": ("ERR_NAME_NOT_RESOLVED", "ERR_NAME_RESOLUTION_FAILED", "ERR_DNS_TIMED_OUT"),
    "timeout": ("ERR_TIMED_OUT", "ERR_CONNECTION_TIMED_OUT"),
    "connection-refused": ("ERR_CONNECTION_REFUSED",),
    "connection": ("ERR_CONNECTION_RESET", "ERR_CONNECTION_CLOSED", "ERR_CONNECTION_FAILED", "ERR_EMPTY_RESPONSE",
                   "ERR_ADDRESS_UNREACHABLE", "ERR_INTERNET_DISCONNECTED", "ERR_NETWORK_CHANGED",
                   "ERR_CONNECTION_ABORTED", "ERR_SOCKET_NOT_CONNECTED"),
    "tls": ("ERR_SSL_PROTOCOL_ERROR", "ERR_CERT_AUTHORITY_INVALID", "ERR_CERT_COMMON_NAME_INVALID",
            "ERR_CERT_DATE_INVALID", "ERR_BAD_SSL_CLIENT_AUTH_CERT"),
    "redirect-loop": ("ERR_TOO_MANY_REDIRECTS",),
    "blocked-private": ("ERR_BLOCKED_BY_CLIENT",),
    "invalid-url": ("ERR_INVALID_URL", "ERR_UNKNOWN_URL_SCHEME", "ERR_DISALLOWED_URL_SCHEME"),
}
_BROWSER_KIND = {code: kind for kind, codes in _BROWSER.items() for code in codes}


def label(kind: str) -> str:
    """The Chinese label of an error or not-stored kind (the kind itself when it is not known)."""
    m = _HTTP.match(kind)
    if m:
        status = int(m.group(1))
        reason = _HTTP_REASONS.get(status) or ("服务器错误" if status >= 500 else "请求错误")
        return f"HTTP {status}（{reason}）"
    known = _BY_NAME.get(kind)
    return known.label if known else kind


def labels() -> dict[str, str]:
    """Every named kind with its Chinese label (``http-<status>`` kinds are labelled by :func:`label`)."""
    return {k.name: k.label for k in (*ERROR_KINDS, *NOT_STORED_KINDS)}


def browser_kind(message: str) -> str | None:
    """The kind of a browser error message (``net::ERR_NAME_NOT_RESOLVED at http://…`` → ``dns``)."""
    m = _NET_ERROR.search(message)
    if not m:
        return None
    return _BROWSER_KIND.get(m.group(1), "connection")


def kind_of(error: Any) -> str:
    """The kind of a failed request: a Twisted ``Failure`` or an exception."""
    from scrapy import exceptions as sx
    from scrapy.exceptions import IgnoreRequest
    from scrapy.spidermiddlewares.httperror import HttpError
    from twisted.internet import error as terr
    from twisted.web._newclient import ResponseFailed, ResponseNeverReceived

    exc = getattr(error, "value", error)
    given = getattr(exc, "kind", None)
    if isinstance(given, str) and given:
        return given
    if isinstance(exc, HttpError):
        return f"http-{exc.response.status}"
    message = str(exc)
    lowered = message.lower()
    # Scrapy's own download errors (it wraps Twisted's in them)
    if isinstance(exc, sx.CannotResolveHostError):
        return "dns"
    if isinstance(exc, sx.DownloadTimeoutError):
        return "timeout"
    if isinstance(exc, sx.DownloadConnectionRefusedError):
        return "connection-refused"
    if isinstance(exc, sx.UnsupportedURLSchemeError):
        return "invalid-url"
    if isinstance(exc, sx.DownloadCancelledError):
        return "too-large" if "max size" in lowered or "maxsize" in lowered else "connection"
    if isinstance(exc, sx.DownloadFailedError | sx.ResponseDataLossError):
        return "tls" if "ssl" in lowered or "tls" in lowered or "certificate" in lowered else "connection"
    if isinstance(exc, terr.DNSLookupError):
        return "dns"
    if isinstance(exc, terr.TimeoutError | terr.TCPTimedOutError):
        return "timeout"
    if isinstance(exc, terr.ConnectionRefusedError):
        return "connection-refused"
    if isinstance(exc, terr.SSLError):
        return "tls"
    if isinstance(exc, ResponseNeverReceived | ResponseFailed):
        inner = [getattr(f, "value", f) for f in getattr(exc, "reasons", [])]
        if any("SSL" in type(e).__name__ or "TLS" in type(e).__name__ for e in inner):
            return "tls"
        return "connection"
    if isinstance(exc, terr.ConnectError | terr.ConnectionLost | terr.ConnectionDone):
        return "connection"
    if isinstance(exc, IgnoreRequest):
        if "robots" in lowered:
            return "robots"
        if "redirect" in lowered:
            return "redirect-loop"
        if "max size" in lowered or "maxsize" in lowered or "larger than" in lowered:
            return "too-large"
        return "error"
    browser = browser_kind(message)
    if browser:
        return browser
    if "maxsize" in lowered or "max size" in lowered:
        return "too-large"
    name = type(exc).__name__
    if "Timeout" in name:
        return "timeout"
    if name in ("CancelledError", "Cancelled"):
        return "timeout" if "timeout" in lowered else "connection"
    return "error"


def drop_kind(exc: BaseException) -> str:
    """Why a pipeline stage did not pass a page on: the ``kind`` or ``code`` the stage's exception (or its cause)
    carries, else the reason read from the drop message of the current stages."""
    for candidate in (exc, exc.__cause__, exc.__context__):
        if candidate is None:
            continue
        for attr in ("kind", "code"):
            value = getattr(candidate, attr, None)
            if isinstance(value, str) and value in _BY_NAME and value != "error":
                return value
    message = str(exc).lower()
    if "duplicate" in message:
        return "duplicate"
    if "too complex" in message or "too-complex" in message:
        return "too-complex"
    if "no article body" in message or "body has" in message or "empty" in message:
        return "empty-body"
    if "binary" in message or "not html" in message:
        return "not-html"
    return "dropped"
