"""Signed session cookies, CSRF tokens, the secret key and webhook URL checks.

A session cookie is ``base64(json) "." base64(hmac_sha256(secret, json))``; the JSON holds the user name, its
role, an expiry time and a random nonce. The CSRF token of a session is ``hmac(secret, "csrf:" + nonce)``, so
a form posted without the page's token is rejected. Visitors without a login get an anonymous session (nonce
only) so that the login form itself carries a CSRF token.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import json
import os
import secrets
import socket
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from core.errors import UrlError
from core.paths import DataPaths

COOKIE = "techscout_session"
SESSION_SECONDS = 12 * 3600



def load_secret(secret_key: str, data_dir: Path) -> bytes:
    """``secret_key`` when set, else the key in ``<data dir>/secret_key`` (created with mode 0600)."""
    if secret_key:
        return secret_key.encode("utf-8")
    path = DataPaths(data_dir).secret
    if path.exists():
        return path.read_text(encoding="ascii").strip().encode("ascii")
    data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(key + "\n")
    return key.encode("ascii")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign_session(secret: bytes, data: dict[str, Any]) -> str:
    payload = json.dumps(data, separators=(",", ":"), ensure_ascii=True).encode("utf-8")
    sig = hmac.new(secret, payload, hashlib.sha256).digest()
    return _b64(payload) + "." + _b64(sig)


def read_session(secret: bytes, cookie: str | None, now: float | None = None) -> dict[str, Any] | None:
    """The session's data when the cookie is well signed and not expired, else None."""
    if not cookie or "." not in cookie or len(cookie) > 4096:
        return None
    payload_b64, _, sig_b64 = cookie.partition(".")
    try:
        payload = _unb64(payload_b64)
        sig = _unb64(sig_b64)
    except (ValueError, TypeError):
        return None
    if not hmac.compare_digest(sig, hmac.new(secret, payload, hashlib.sha256).digest()):
        return None
    try:
        data = json.loads(payload)
    except ValueError:
        return None
    if not isinstance(data, dict) or float(data.get("exp", 0)) < (time.time() if now is None else now):
        return None
    return data


def new_session(user: dict[str, Any] | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {"n": secrets.token_urlsafe(16), "exp": int(time.time()) + SESSION_SECONDS}
    if user is not None:
        data["u"] = user["name"]
        data["r"] = user["role"]
    return data


def csrf_token(secret: bytes, session: dict[str, Any]) -> str:
    return hmac.new(secret, ("csrf:" + str(session.get("n", ""))).encode("utf-8"), hashlib.sha256).hexdigest()


def check_csrf(secret: bytes, session: dict[str, Any] | None, token: str | None) -> bool:
    if session is None or not token:
        return False
    return hmac.compare_digest(csrf_token(secret, session), token)


_BLOCKED_NAMES = ("localhost", ".localhost", ".local", ".internal", ".lan", ".home.arpa")


def _ip_blocked(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
    )


def check_webhook_url(url: str, allow_private: bool = False, resolve: bool = True) -> str:
    """Return the URL when it is an http(s) URL of a public host, else raise :class:`UrlError`.

    Host names are resolved (when ``resolve``) and rejected when any address is private, loopback or
    link-local; a name that does not resolve is accepted (it cannot reach an internal service either)."""
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UrlError(f"不是 http(s) 地址: {url!r}")
    if allow_private:
        return url
    host = parts.hostname.lower().rstrip(".")
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        ip = None
    if ip is not None:
        if _ip_blocked(ip):
            raise UrlError(f"不允许内网或本机地址: {host}")
        return url
    if host == "localhost" or any(host.endswith(s) for s in _BLOCKED_NAMES):
        raise UrlError(f"不允许内网或本机地址: {host}")
    if resolve:
        try:
            infos = socket.getaddrinfo(host, parts.port or 443, proto=socket.IPPROTO_TCP)
        except (OSError, UnicodeError):
            infos = []
        for info in infos:
            try:
                addr = ipaddress.ip_address(str(info[4][0]).split("%")[0])
            except ValueError:
                continue
            if _ip_blocked(addr):
                raise UrlError(f"{host} 解析到内网或本机地址 {addr}")
    return url
