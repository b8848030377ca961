"""SQLite transactions: the one rule both SQLite files (the embedded store, the duplicate index) follow."""

from __future__ import annotations

import contextlib
import sqlite3


def rollback(conn: sqlite3.Connection) -> None:
    """Undo the open transaction of ``conn``. SQLite may already have rolled it back itself (a full disk, an I/O
    error); then there is none, and a ROLLBACK that fails must not replace the error that caused it."""
    if conn.in_transaction:
        with contextlib.suppress(sqlite3.DatabaseError):
            conn.execute("ROLLBACK")
