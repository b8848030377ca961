"""Signed session cookies, CSRF tokens, the secret key and the failed-login throttle.

A session cookie is ``base64(json) "." base64(hmac_sha256(secret, json))``; the JSON holds the user name, an
expiry time, a random nonce and the session id. The session id is also kept server-side in the user's record
(:func:`search.users.add_session`): logging out removes it and a password change removes them all, so a copied
cookie stops working at once (the record is read on every request anyway). The CSRF token of a session is
``hmac(secret, "csrf:" + nonce)``, so a form posted without the page's token is rejected. Visitors without a
login get an anonymous session (nonce only) so that the login form itself carries a CSRF token.

Failed logins are throttled per (name, client address) with an exponential delay, never a hard lock: an
attacker elsewhere can slow their own guesses but cannot lock the real owner out. The table keys are hashes
(a 1 MB name costs 16 bytes) and the table holds at most :data:`THROTTLE_MAX_KEYS` keys, oldest dropped first.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import threading
import time
from collections import OrderedDict
from pathlib import Path
from typing import Any

from core.paths import DataPaths

COOKIE = "techscout_session"
SESSION_SECONDS = 12 * 3600
#: failures of one (name, client) before each further attempt must wait; the wait doubles from here
THROTTLE_FREE_FAILURES = 5
THROTTLE_BASE_S = 1.0
THROTTLE_CAP_S = 15 * 60.0
THROTTLE_WINDOW_S = 3600.0
THROTTLE_MAX_KEYS = 10_000


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
    if not isinstance(data, dict):
        return None
    try:
        expires = float(data.get("exp", 0))
    except (TypeError, ValueError):
        return None
    if expires < (time.time() if now is None else now):
        return None
    return data


def new_session(user: dict[str, Any] | None = None, session_id: str | None = None) -> dict[str, Any]:
    """A fresh session: anonymous, or for ``user`` with ``session_id`` (kept in the user's record)."""
    data: dict[str, Any] = {"n": secrets.token_urlsafe(16), "exp": int(time.time()) + SESSION_SECONDS}
    if user is not None:
        data["u"] = user["name"]
        data["sid"] = session_id or ""
    return data


def csrf_token(secret: bytes, session: dict[str, Any]) -> str:
    return hmac.new(secret, ("csrf:" + str(session.get("n", ""))).encode("utf-8"), hashlib.sha256).hexdigest()


def check_csrf(secret: bytes, session: dict[str, Any] | None, token: str | None) -> bool:
    if session is None or not token:
        return False
    return hmac.compare_digest(csrf_token(secret, session), token)


class LoginThrottle:
    """Failed logins per (name, client address): after :data:`THROTTLE_FREE_FAILURES` failures each further
    attempt from that client for that name must wait ``THROTTLE_BASE_S * 2**k`` seconds (capped); a success
    clears the key. Bounded: keys are 16-byte hashes, at most ``max_keys`` of them (least recent dropped)."""

    def __init__(self, max_keys: int = THROTTLE_MAX_KEYS, clock: Any = time.monotonic) -> None:
        self.max_keys = max_keys
        self._clock = clock
        self._lock = threading.Lock()
        self._table: OrderedDict[bytes, tuple[int, float]] = OrderedDict()  # key -> (failures, last failure)

    @staticmethod
    def key(name: str, client: str) -> bytes:
        digest = hashlib.blake2b(digest_size=16)
        digest.update(name.encode("utf-8", "surrogatepass")[:1024])
        digest.update(b"\x00" + client.encode("utf-8", "replace")[:128])
        return digest.digest()

    def wait_seconds(self, name: str, client: str) -> float:
        """Seconds this client must still wait before trying ``name`` again (0 when it may try now)."""
        with self._lock:
            entry = self._table.get(self.key(name, client))
        if entry is None:
            return 0.0
        failures, last = entry
        now = self._clock()
        if now - last > THROTTLE_WINDOW_S or failures < THROTTLE_FREE_FAILURES:
            return 0.0
        delay = min(THROTTLE_CAP_S, THROTTLE_BASE_S * 2 ** (failures - THROTTLE_FREE_FAILURES))
        return max(0.0, last + delay - now)

    def failed(self, name: str, client: str) -> None:
        key = self.key(name, client)
        now = self._clock()
        with self._lock:
            failures, last = self._table.pop(key, (0, now))
            if now - last > THROTTLE_WINDOW_S:
                failures = 0
            self._table[key] = (failures + 1, now)
            while len(self._table) > self.max_keys:
                self._table.popitem(last=False)

    def succeeded(self, name: str, client: str) -> None:
        with self._lock:
            self._table.pop(self.key(name, client), None)

    def __len__(self) -> int:
        return len(self._table)
