"""URL identity: one canonical form per article, whatever link reached it."""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

# query parameters that never change the content: tracking, campaign and session parameters
_DROP_PARAMS = re.compile(
    r"^(utm_\w+|spm|from|source|src|share|share_token|sharer|scene|isappinstalled|wfr|timestamp|_t|t_|_|"
    r"fbclid|gclid|yclid|msclkid|mc_cid|mc_eid|ref|ref_src|referer|referrer|"
    r"jsessionid|phpsessid|aspsessionid\w*|sid|sessionid|session_id|cid_session|s_id)$",
    re.I,
)
_SESSION_IN_PATH = re.compile(r";(jsessionid|phpsessid|sid)=[^/?#]*", re.I)
_INDEX_PAGE = re.compile(r"/(index|default|home)\.(s?html?|php|aspx?|jsp)$", re.I)
_DEFAULT_PORTS = {"http": 80, "https": 443}
_ESCAPE = re.compile(r"%[0-9a-f]{2}", re.I)


def canonical_url(url: str) -> str:
    """The canonical form of a URL, used as document identity.

    Lower-cases scheme and host, drops default ports, fragments, tracking and session parameters,
    sorts the remaining query, removes ``index.html``-style index pages and trailing slashes (but keeps ``/``
    for a site root). ``https`` and ``http`` forms are kept distinct only by scheme; callers that want them equal
    should compare :func:`identity_key`.
    """
    url = url.strip()
    parts = urlsplit(url)
    scheme = (parts.scheme or "http").lower()
    host = (parts.hostname or "").lower().rstrip(".")
    if host.startswith("www."):
        pass  # www. is kept: some sites serve different content on the bare domain
    port = parts.port
    netloc = host
    if port and port != _DEFAULT_PORTS.get(scheme):
        netloc = f"{host}:{port}"
    path = _SESSION_IN_PATH.sub("", parts.path) or "/"
    # one spelling of the path: non-ASCII percent-encoded (UTF-8), escapes upper-cased
    path = _ESCAPE.sub(lambda m: m.group(0).upper(), quote(path, safe="/%:@!$&'()*+,;=~"))
    path = re.sub(r"/{2,}", "/", path)
    path = _INDEX_PAGE.sub("/", path)
    if len(path) > 1 and path.endswith("/"):
        path = path.rstrip("/") or "/"
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not _DROP_PARAMS.match(k)]
    query.sort()
    return urlunsplit((scheme, netloc, path, urlencode(query, doseq=True), ""))


def identity_key(url: str) -> str:
    """Canonical URL without the scheme: ``http://x/a`` and ``https://x/a`` are the same article."""
    canon = canonical_url(url)
    return canon.split("://", 1)[-1]


def host_of(url: str) -> str:
    return (urlsplit(url).hostname or "").lower()


def registered_domain(host: str) -> str:
    """Best-effort registrable domain (``www.most.gov.cn`` → ``most.gov.cn``; ``news.sina.com.cn`` →
    ``sina.com.cn``), without a public-suffix download."""
    labels = host.lower().strip(".").split(".")
    if len(labels) <= 2 or all(label.isdigit() for label in labels) or ":" in host:
        return host.lower()
    second_level = {"com", "net", "org", "gov", "edu", "ac", "mil", "co"}
    if labels[-1] in ("cn", "hk", "tw", "uk", "jp") and labels[-2] in second_level:
        return ".".join(labels[-3:])
    if labels[-1] == "cn" and len(labels[-2]) == 2:  # provincial: xx.gov.cn handled above; sh.cn, bj.cn
        return ".".join(labels[-3:])
    return ".".join(labels[-2:])
