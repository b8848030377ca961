"""Staff accounts, their sessions and API tokens, stored as records in the search backend.

* ``users`` records: ``{"id": name, "name", "role": "admin"|"staff", "salt", "hash", "kdf", "created",
  "sessions": [[session id, expiry], ...]}``; the password is hashed with scrypt and a random salt and checked
  in constant time. ``sessions`` are the web sessions that are valid: logging out removes one, a password
  change removes them all (the signed cookie alone is not enough).
* ``tokens`` records: ``{"id": sha256(token), "name", "role", "created", "prefix"}``; only the hash of a token
  is stored, the token itself is shown once when it is created.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from functools import lru_cache
from typing import Any

from core import clock
from core.errors import UserError
from search.backends.base import Backend

ROLES = ("admin", "staff")
_NAME = re.compile(r"^[A-Za-z0-9_.@\-\u4e00-\u9fff]{1,64}$")
# scrypt cost: n=2**14, r=8, p=1 (16 MiB of memory per check)
_N, _R, _P = 2**14, 8, 1
TOKEN_PREFIX = "tsk_"
#: web sessions kept per user (the oldest is dropped: logging in on an 11th device logs out the first)
MAX_SESSIONS = 10


def hash_password(
    password: str, salt: bytes | None = None, n: int = _N, r: int = _R, p: int = _P
) -> dict[str, Any]:
    """The stored form of a password: scrypt with a random 16-byte salt."""
    salt = secrets.token_bytes(16) if salt is None else salt
    digest = hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=n, r=r, p=p, maxmem=64 * 1024 * 1024, dklen=32
    )
    return {"kdf": f"scrypt:{n}:{r}:{p}", "salt": salt.hex(), "hash": digest.hex()}


def check_password(password: str, stored: dict[str, Any]) -> bool:
    """True when ``password`` matches the stored hash (constant-time comparison)."""
    try:
        name, n, r, p = str(stored["kdf"]).split(":")
        if name != "scrypt":
            return False
        again = hash_password(password, bytes.fromhex(stored["salt"]), int(n), int(r), int(p))
    except (KeyError, ValueError):
        return False
    return hmac.compare_digest(again["hash"], str(stored.get("hash", "")))


def check_name(name: str) -> bool:
    """Whether ``name`` is a valid user or token name."""
    return bool(_NAME.match(name or ""))


def add_user(backend: Backend, name: str, password: str, role: str = "staff") -> dict[str, Any]:
    """Create or replace a user (a replaced user's sessions end); returns the stored record (no password)."""
    if not _NAME.match(name):
        raise UserError(
            f"invalid user name {name!r}: letters, digits, Chinese characters, '_', '.', '@', '-'"
        )
    if role not in ROLES:
        raise UserError(f"unknown role {role!r} (known: {', '.join(ROLES)})")
    _check_password_strength(password)
    old = backend.get_record("users", name)
    record = {"id": name, "name": name, "role": role, "created": (old or {}).get("created") or clock.now_iso()}
    record |= hash_password(password)
    backend.put_record("users", name, record)
    return public_user(record)


def _check_password_strength(password: str) -> None:
    if len(password) < 8:
        raise UserError("密码至少 8 个字符")
    if len(password) > 1024:
        raise UserError("密码不能超过 1024 个字符")


def public_user(record: dict[str, Any]) -> dict[str, Any]:
    return {k: record.get(k) for k in ("name", "role", "created")}


@lru_cache(maxsize=1)
def _dummy_record() -> dict[str, Any]:
    """A stored hash no password matches, made once: checking against it costs one scrypt, as a real check."""
    return hash_password(secrets.token_hex(16)) | {"hash": "00" * 32}


def authenticate(backend: Backend, name: str, password: str) -> dict[str, Any] | None:
    """The user's public record when the name and password match, else None.

    An unknown or invalid name costs the same one scrypt computation as a wrong password, so timing does not
    tell which names exist. Blocking (tens of milliseconds): the web app calls it in a worker thread."""
    password = password[:1024]
    record = backend.get_record("users", name) if _NAME.match(name or "") else None
    if record is None:
        check_password(password, _dummy_record())
        return None
    return public_user(record) if check_password(password, record) else None


def get_user(backend: Backend, name: str) -> dict[str, Any] | None:
    record = backend.get_record("users", name) if _NAME.match(name or "") else None
    return None if record is None else public_user(record)


def list_users(backend: Backend) -> list[dict[str, Any]]:
    """Every user's public record with the number of open web sessions, by name."""
    out = []
    for record in backend.list_records("users", limit=100_000):
        now = time.time()
        live = [s for s in record.get("sessions") or [] if _live(s, now)]
        out.append(public_user(record) | {"sessions": len(live)})
    return sorted(out, key=lambda u: str(u["name"]))


def change_password(backend: Backend, name: str, old_password: str, new_password: str) -> bool:
    """Set a new password when ``old_password`` is right; every session of the user ends. False when wrong."""
    record = backend.get_record("users", name) if _NAME.match(name or "") else None
    if record is None or not check_password(old_password[:1024], record):
        return False
    _check_password_strength(new_password)
    backend.put_record("users", name, {**record, **hash_password(new_password), "sessions": []})
    return True


# -- web sessions ------------------------------------------------------------------------------------------------
def _live(entry: Any, now: float) -> bool:
    return isinstance(entry, list | tuple) and len(entry) == 2 and float(entry[1]) > now


def add_session(backend: Backend, name: str, session_id: str, expires: float) -> None:
    """Remember a new web session of ``name`` (at most :data:`MAX_SESSIONS`, the oldest dropped)."""
    record = backend.get_record("users", name)
    if record is None:
        return
    now = time.time()
    sessions = [s for s in record.get("sessions") or [] if _live(s, now)]
    sessions = [*sessions, [session_id, float(expires)]][-MAX_SESSIONS:]
    backend.put_record("users", name, {**record, "sessions": sessions})


def end_session(backend: Backend, name: str, session_id: str | None = None) -> None:
    """End one web session of ``name`` (or, without ``session_id``, every one of them)."""
    record = backend.get_record("users", name) if _NAME.match(name or "") else None
    if record is None:
        return
    sessions = [s for s in record.get("sessions") or [] if session_id is not None and s[0] != session_id]
    backend.put_record("users", name, {**record, "sessions": sessions})


def session_user(backend: Backend, name: str, session_id: str) -> dict[str, Any] | None:
    """The user's public record when ``session_id`` is one of the user's open sessions, else None."""
    record = backend.get_record("users", name) if _NAME.match(name or "") else None
    if record is None or not session_id:
        return None
    now = time.time()
    for entry in record.get("sessions") or []:
        if _live(entry, now) and hmac.compare_digest(str(entry[0]), session_id):
            return public_user(record)
    return None


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_token(backend: Backend, name: str, role: str = "staff") -> str:
    """Create an API token named ``name``; returns the token (only its hash is stored)."""
    if not _NAME.match(name):
        raise UserError(f"invalid token name {name!r}")
    if role not in ROLES:
        raise UserError(f"unknown role {role!r} (known: {', '.join(ROLES)})")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    digest = token_hash(token)
    backend.put_record(
        "tokens", digest, {"id": digest, "name": name, "role": role, "created": clock.now_iso(), "prefix": token[:8]}
    )
    return token


def check_token(backend: Backend, token: str) -> dict[str, Any] | None:
    """The token's principal ``{"name", "role", "token": True}`` when the token is known, else None."""
    if not token or not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    record = backend.get_record("tokens", token_hash(token))
    if record is None or record.get("revoked"):
        return None
    return {"name": f"token:{record.get('name', '')}", "role": record.get("role", "staff"), "token": True}


def list_tokens(backend: Backend) -> list[dict[str, Any]]:
    """Every token's name, role, creation time and first characters (never the token), newest first."""
    return [
        {k: record.get(k) for k in ("name", "role", "created", "prefix")}
        for record in backend.list_records("tokens", limit=100_000)
        if not record.get("revoked")
    ]


def revoke_token(backend: Backend, name: str) -> int:
    """Delete every token named ``name``; returns how many."""
    n = 0
    for record in backend.list_records("tokens", {"name": name}, limit=1000):
        n += backend.delete_record("tokens", str(record["id"]))
    return n
