"""Staff accounts and API tokens, stored as records in the search backend.

* ``users`` records: ``{"id": name, "name", "role": "admin"|"staff", "salt", "hash", "kdf", "created"}``; the
  password is hashed with scrypt and a random salt and checked in constant time.
* ``tokens`` records: ``{"id": sha256(token), "name", "role", "created", "prefix"}``; only the hash of a token
  is stored, the token itself is shown once when it is created.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from typing import Any

from core import clock
from core.errors import UserError
from search.backends.base import Backend

ROLES = ("admin", "staff")
_NAME = re.compile(r"^[A-Za-z0-9_.@\-\u4e00-\u9fff]{1,64}$")
# scrypt cost: n=2**14, r=8, p=1 (16 MiB of memory per check)
_N, _R, _P = 2**14, 8, 1
TOKEN_PREFIX = "tsk_"




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


def add_user(backend: Backend, name: str, password: str, role: str = "staff") -> dict[str, Any]:
    """Create or replace a user; returns the stored record (without the password)."""
    if not _NAME.match(name):
        raise UserError(
            f"invalid user name {name!r}: letters, digits, Chinese characters, '_', '.', '@', '-'"
        )
    if role not in ROLES:
        raise UserError(f"unknown role {role!r} (known: {', '.join(ROLES)})")
    if len(password) < 8:
        raise UserError("the password must have at least 8 characters")
    old = backend.get_record("users", name)
    record = {"id": name, "name": name, "role": role, "created": (old or {}).get("created") or clock.now_iso()}
    record |= hash_password(password)
    backend.put_record("users", name, record)
    return public_user(record)


def public_user(record: dict[str, Any]) -> dict[str, Any]:
    return {k: record.get(k) for k in ("name", "role", "created")}


def authenticate(backend: Backend, name: str, password: str) -> dict[str, Any] | None:
    """The user's public record when the name and password match, else None."""
    record = backend.get_record("users", name) if _NAME.match(name or "") else None
    if record is None:
        # spend the same time as a real check, so that timing does not reveal which names exist
        check_password(password, hash_password("x", b"0" * 16) | {"hash": "00"})
        return None
    return public_user(record) if check_password(password, record) else None


def get_user(backend: Backend, name: str) -> dict[str, Any] | None:
    record = backend.get_record("users", name) if _NAME.match(name or "") else None
    return None if record is None else public_user(record)


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


def revoke_token(backend: Backend, name: str) -> int:
    """Delete every token named ``name``; returns how many."""
    n = 0
    for record in backend.list_records("tokens", {"name": name}, limit=1000):
        n += backend.delete_record("tokens", str(record["id"]))
    return n
