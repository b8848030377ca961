"""The outbound-URL guard: one parser of URLs and one check of the addresses they reach.

Everything techscout sends out — crawl requests and each of their redirect hops, notification deliveries of every
channel, URLs typed into the web UI or the API — is checked here:

* :func:`parse_url` parses a URL once and rejects what is malformed (spaces, control characters, a bad or
  out-of-range port, an unterminated IPv6 literal, an invalid host name) with a :class:`~core.errors.UrlError`
  naming the field;
* :func:`blocked_reason` says why an address must not be reached: loopback, private, link-local, shared
  (CGNAT, 100.64.0.0/10, which holds cloud metadata addresses), multicast, reserved, unspecified, documentation
  and benchmarking ranges, and their IPv6 forms (IPv4-mapped, NAT64, 6to4 and Teredo addresses are judged by the
  IPv4 address they carry);
* :func:`resolve` resolves a host once and returns only checked addresses, so the caller connects to the address
  that was checked (no window in which a second DNS answer could point elsewhere); a host whose answers include
  one blocked address is blocked as a whole;
* :func:`check_url` does both for a URL.

Hosts written as numbers in the legacy forms that ``inet_aton`` accepts (``2130706433``, ``0x7f.1``, ``127.1``)
are read as the address they mean. Private addresses are allowed only by the ``allow_private_urls`` setting
(for test sites on the local machine).
"""

from __future__ import annotations

import ipaddress
import re
import socket
import threading
from collections.abc import Callable, Collection
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

from core.errors import BlockedUrl, UrlError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
MAX_URL_LENGTH = 4096
DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443, "ftp": 21}
_CONTROL = re.compile(r"[\x00-\x20\x7f]")
_HOST_NAME = re.compile(r"^(?=.{1,253}$)([a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?)(\.[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?)*\.?$")
_NUMERIC_HOST = re.compile(r"^(0x[0-9a-f]*|[0-9]+)(\.(0x[0-9a-f]*|[0-9]+)){0,3}$", re.I)
_BLOCKED_NAMES = ("localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback")
_BLOCKED_SUFFIXES = (".localhost", ".local", ".internal", ".lan", ".home.arpa", ".intranet", ".corp")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")
_CGNAT = ipaddress.ip_network("100.64.0.0/10")

Resolver = Callable[[str, int], list[str]]


@dataclass(frozen=True)
class Url:
    """A parsed URL. ``host`` is lower case, IDNA-encoded, without brackets; ``ip`` is set for IP literals."""

    raw: str
    scheme: str
    host: str
    port: int | None
    path: str
    query: str
    username: str | None
    password: str | None
    ip: IPAddress | None

    @property
    def effective_port(self) -> int:
        return self.port or DEFAULT_PORTS.get(self.scheme, 0)

    def redacted(self) -> str:
        """The URL without credentials, query or fragment, for logs and error messages."""
        host = f"[{self.host}]" if self.ip is not None and self.ip.version == 6 else self.host
        port = f":{self.port}" if self.port else ""
        return f"{self.scheme}://{host}{port}{self.path}"


def _fail(field: str, url: str, why: str) -> UrlError:
    shown = url if len(url) <= 120 else url[:117] + "…"
    return UrlError(f"{field}: {why}: {shown!r}")


def _numeric_host(host: str) -> IPAddress | None:
    """The IPv4 address a legacy numeric host means (``2130706433``, ``0x7f.1``, ``127.1``), else None."""
    if not _NUMERIC_HOST.match(host):
        return None
    try:
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except OSError:
        return None


def parse_url(url: str, *, field: str = "url", schemes: Collection[str] | None = None) -> Url:
    """Parse ``url`` once; a :class:`UrlError` naming ``field`` when it is malformed or of another scheme."""
    if not isinstance(url, str):
        raise UrlError(f"{field}: 应为地址字符串，收到 {type(url).__name__}")
    raw = url.strip()
    if not raw:
        raise UrlError(f"{field}: 地址为空")
    if len(raw) > MAX_URL_LENGTH:
        raise UrlError(f"{field}: 地址超过 {MAX_URL_LENGTH} 个字符")
    if _CONTROL.search(raw):
        raise _fail(field, raw, "地址中有空格或控制字符")
    try:
        parts: SplitResult = urlsplit(raw)
    except ValueError as exc:
        raise _fail(field, raw, f"地址格式错误（{exc}）") from None
    scheme = parts.scheme.lower()
    if not scheme or "://" not in raw:
        raise _fail(field, raw, "不是完整的地址（应为 协议://主机/…）")
    if schemes is not None and scheme not in schemes:
        raise _fail(field, raw, f"不支持 {scheme}:// 地址（支持：{'、'.join(sorted(schemes))}）")
    try:
        port = parts.port
    except ValueError:
        raise _fail(field, raw, "端口应为 1 到 65535 之间的数字") from None
    if port is not None and not 0 < port < 65536:
        raise _fail(field, raw, "端口应为 1 到 65535 之间的数字")
    netloc_host = parts.netloc.rpartition("@")[2]
    if netloc_host.startswith("[") and "]" not in netloc_host:
        raise _fail(field, raw, "IPv6 地址缺少右方括号")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise _fail(field, raw, "缺少主机名")
    ip: IPAddress | None = None
    try:
        ip = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        ip = _numeric_host(host)
    if ip is None:
        try:
            host = host.encode("idna").decode("ascii").lower()
        except UnicodeError:
            raise _fail(field, raw, "主机名无效") from None
        if not _HOST_NAME.match(host):
            raise _fail(field, raw, "主机名无效")
    else:
        host = str(ip)
    return Url(
        raw=raw,
        scheme=scheme,
        host=host,
        port=port,
        path=parts.path or "",
        query=parts.query,
        username=parts.username,
        password=parts.password,
        ip=ip,
    )


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries (mapped, NAT64, 6to4, Teredo), else None."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip in _NAT64 or ip in _NAT64_LOCAL:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    return None


def blocked_reason(ip: IPAddress | str) -> str | None:
    """Why outbound requests must not reach ``ip`` (a short Chinese phrase), or None when it is public."""
    if isinstance(ip, str):
        ip = ipaddress.ip_address(ip.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        inner = _embedded_ipv4(ip)
        if inner is not None:
            why = blocked_reason(inner)
            return f"{why}（IPv6 形式）" if why else None
    if ip.is_loopback:
        return "本机地址"
    if ip.is_unspecified:
        return "未指定地址"
    if ip.is_link_local:
        return "链路本地地址"
    if isinstance(ip, ipaddress.IPv4Address) and ip in _CGNAT:
        return "运营商共享地址（100.64.0.0/10）"
    if ip.is_multicast:
        return "组播地址"
    if ip.is_private:
        return "内网地址"
    if ip.is_reserved or not ip.is_global:
        return "保留地址"
    return None


def _system_resolver(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port or None, proto=socket.IPPROTO_TCP)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


_resolver_lock = threading.Lock()
_resolver: Resolver = _system_resolver


def set_resolver(resolver: Resolver | None) -> Resolver:
    """Replace how host names are resolved (tests map names to chosen addresses); returns the previous one.
    ``None`` restores the system resolver."""
    global _resolver
    with _resolver_lock:
        previous = _resolver
        _resolver = resolver or _system_resolver
        return previous


def is_blocked_name(host: str) -> bool:
    """Names that always mean this machine or a private network (``localhost``, ``*.local``, ``*.internal`` …)."""
    host = host.lower().rstrip(".")
    return host in _BLOCKED_NAMES or host.endswith(_BLOCKED_SUFFIXES)


def resolve(host: str, port: int = 0, *, allow_private: bool = False) -> list[str]:
    """The addresses of ``host``, every one checked: a :class:`BlockedUrl` when one of them must not be
    reached, an :class:`UrlError` when the name does not resolve. Connect to what this returns."""
    try:
        literal: IPAddress | None = ipaddress.ip_address(host.strip("[]").split("%", 1)[0])
    except ValueError:
        literal = _numeric_host(host)
    if literal is not None:
        addresses = [str(literal)]
    else:
        if not allow_private and is_blocked_name(host):
            raise BlockedUrl(f"不允许访问内网或本机地址: {host}")
        try:
            addresses = _resolver(host, port)
        except (OSError, UnicodeError) as exc:
            raise UrlError(f"无法解析主机名 {host}：{getattr(exc, 'strerror', None) or exc}") from None
        if not addresses:
            raise UrlError(f"无法解析主机名 {host}：没有地址")
    if not allow_private:
        for address in addresses:
            why = blocked_reason(address)
            if why:
                shown = host if literal is not None else f"{host} 解析到 {address}"
                raise BlockedUrl(f"不允许访问{why}: {shown}")
    return addresses


def check_url(
    url: str,
    *,
    allow_private: bool = False,
    field: str = "url",
    schemes: Collection[str] | None = None,
    resolve_names: bool = True,
) -> Url:
    """Parse ``url`` and check the host it reaches (resolved when ``resolve_names``; a name that does not
    resolve is accepted then, since it reaches nothing — the request made later resolves and checks again)."""
    parsed = parse_url(url, field=field, schemes=schemes)
    if allow_private:
        return parsed
    if parsed.ip is not None:
        why = blocked_reason(parsed.ip)
        if why:
            raise BlockedUrl(f"{field}: 不允许访问{why}: {parsed.redacted()}")
        return parsed
    if is_blocked_name(parsed.host):
        raise BlockedUrl(f"{field}: 不允许访问内网或本机地址: {parsed.redacted()}")
    if resolve_names:
        try:
            resolve(parsed.host, parsed.effective_port)
        except BlockedUrl as exc:
            raise BlockedUrl(f"{field}: {exc}") from None
        except UrlError:
            pass
    return parsed
