"""Processes a techscout process starts: how many helpers the machine's cores allow, and the parent-death signal
(the one home of the ``prctl`` call).

A crawl process is started by its launcher (the scheduler, the web service, the CLI) and an extraction
process by its crawl; each must not outlive the process that started it. Linux sends the signal chosen here
when the thread that started the process ends; elsewhere nothing is set and the caller's own shutdown stops it.
"""

from __future__ import annotations

import ctypes
import os
from typing import Any

_PR_SET_PDEATHSIG = 1
try:
    _LIBC: Any = ctypes.CDLL(None, use_errno=True)
except OSError:  # not Linux
    _LIBC = None


def set_parent_death_signal(sig: int) -> bool:
    """Have the kernel send ``sig`` to this process when its parent ends (0 clears it); whether it is set."""
    if _LIBC is None:
        return False
    try:
        return _LIBC.prctl(_PR_SET_PDEATHSIG, int(sig), 0, 0, 0) == 0
    except AttributeError:  # a C library without prctl
        return False


def parent_alive(parent: int) -> bool:
    """Whether ``parent`` is still this process's parent (it may have ended before the signal was set)."""
    return os.getppid() == parent


def helper_processes(wanted: int, busy: int = 1) -> int:
    """How many helper processes (a crawl's extraction processes) to start for the setting ``wanted`` while
    ``busy`` processes keep a core busy each (the crawl itself and the other crawls running beside it): at most
    the cores they leave idle — on a busy machine another process only adds memory, not speed."""
    return max(0, min(int(wanted), (os.cpu_count() or 1) - max(1, busy)))
