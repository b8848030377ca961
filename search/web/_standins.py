"""Stand-ins for two functions other parts of techscout are writing (see ``search/web/services.py``).

Same signatures and behaviour as their contracts; deleted when ``search.alerts.validate_subscription`` and
``crawlers.launch`` land on main. Nothing but ``services.py`` imports this module.
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import threading
import uuid
from pathlib import Path
from typing import Any

from core import clock, netguard
from core.errors import CrawlBusy, QueryError, SubscriptionError, UrlError
from core.settings import Settings
from core.values import SAFE_ID
from search.alerts import normalize_subscription, parse_digest_at

REPO_ROOT = Path(__file__).resolve().parent.parent.parent
_CONTENT_TYPES = {
    "政策": "policy", "新闻": "news", "成果": "achievement", "需求": "demand", "人才": "talent", "活动": "event",
    "其他": "other",
}
_LIBRARIES = {"问题库": "problem", "项目库": "project", "人才库": "talent"}
_FILTER_KEYS = {"type": "content_type", "domain": "domains", "library": "libraries", "region": "region",
                "source": "source", "content_type": "content_type", "domains": "domains", "libraries": "libraries"}
_IM_SCHEMES = {"dingtalk", "wecombot", "feishu", "lark", "mailto", "mailtos"}


def _notify_url(url: str, allow_private: bool) -> str:
    text = url.strip()
    scheme = text.split("://", 1)[0].lower() if "://" in text else ""
    try:
        if scheme in ("http", "https"):
            netguard.check_url(text, allow_private=allow_private, field="notify", resolve_names=False)
            return ("jsons" if scheme == "https" else "json") + text[len(scheme):]
        if scheme in ("json", "jsons", "xml", "xmls", "form", "forms"):
            netguard.check_url(text, allow_private=allow_private, field="notify", resolve_names=False)
            return text
        if scheme in _IM_SCHEMES:
            netguard.parse_url(text, field="notify")
            return text
    except UrlError as exc:
        raise SubscriptionError(f"notify: {exc}") from None
    raise SubscriptionError(
        f"notify: 不支持的通知地址 {text[:80]!r}（支持 https:// Webhook、mailto:// 邮件、dingtalk://、wecombot://、feishu://）"
    )


def validate_subscription(
    data: dict[str, Any], *, owner: str, allow_private: bool, existing: dict[str, Any] | None = None
) -> dict[str, Any]:
    name = str(data.get("name") or "").strip()
    if not name or len(name) > 100:
        raise SubscriptionError("name: 订阅名称不能为空，且不超过 100 字")
    sub_id = str(data.get("id") or (existing or {}).get("id") or uuid.uuid4().hex[:16])
    if not SAFE_ID.match(sub_id):
        raise SubscriptionError("id: 只能包含字母、数字、点、下划线和连字符（不超过 64 个）")
    filters_in = data.get("filters") or {}
    if not isinstance(filters_in, dict):
        raise SubscriptionError("filters: 应为对象")
    filters: dict[str, list[str]] = {}
    for key, values in filters_in.items():
        fld = _FILTER_KEYS.get(str(key))
        if fld is None:
            raise SubscriptionError(f"filters: 未知的筛选字段 {key!r}")
        vals = [values] if isinstance(values, str) else list(values or [])
        clean = []
        for v in vals:
            v = str(v).strip()
            v = _CONTENT_TYPES.get(v, v) if fld == "content_type" else _LIBRARIES.get(v, v) if fld == "libraries" else v
            if v:
                clean.append(v)
        if clean:
            filters[fld] = clean
    notify_in = data.get("notify") or []
    if isinstance(notify_in, str):
        notify_in = notify_in.split()
    notify = [_notify_url(str(u), allow_private) for u in notify_in if str(u).strip()]
    if not notify:
        raise SubscriptionError("notify: 至少需要一个通知地址")
    mode = str(data.get("mode") or "immediate")
    digest_at = str(data.get("digest_at") or "08:00").strip()
    if mode == "digest":
        try:
            parse_digest_at(digest_at if "@" in digest_at else f"daily@{digest_at}")
        except Exception:
            raise SubscriptionError(f"digest_at: 摘要时间应为 08:00、daily@08:00 或 weekly@mon 08:00，收到 {digest_at!r}") from None
    record = {
        "id": sub_id,
        "name": name,
        "owner": owner,
        "query": str(data.get("query") or "").strip(),
        "filters": filters,
        "notify": notify,
        "mode": mode,
        "digest_at": digest_at if mode == "digest" else None,
        "min_relevance": data.get("min_relevance"),
        "created": (existing or {}).get("created") or clock.now_iso(),
        "updated": clock.now_iso(),
        "enabled": True,
    }
    try:
        return normalize_subscription(record)
    except QueryError as exc:
        raise SubscriptionError(f"query: {exc}") from None
    except Exception as exc:
        raise SubscriptionError(str(exc)) from None


_procs: dict[tuple[str, str], subprocess.Popen[bytes]] = {}
_lock = threading.Lock()


def is_running(settings: Settings, source: str) -> bool:
    with _lock:
        proc = _procs.get((str(settings.data_dir), source))
        if proc is not None and proc.poll() is None:
            return True
    lock = settings.paths.source_lock(source)
    if not lock.exists():
        return False
    with open(lock, "a") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return True
        fcntl.flock(fh, fcntl.LOCK_UN)
    return False


def crawl_now(settings: Settings, source: str) -> str:
    if is_running(settings, source):
        raise CrawlBusy(f"数据源 {source} 正在抓取")
    run_id = f"{source}-{clock.now().strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:6]}"
    log = settings.paths.crawl_log(source)
    log.parent.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "cli", "crawl", source, "--data", str(settings.data_dir), "--quiet",
           "--run-id", run_id]
    alerts = [sys.executable, "-m", "cli", "alerts", "run", "--data", str(settings.data_dir)]
    script = f"{subprocess.list2cmdline(cmd)}; {subprocess.list2cmdline(alerts)}"
    with open(log, "ab") as out:
        proc = subprocess.Popen(["/bin/sh", "-c", script], cwd=str(REPO_ROOT), env=os.environ | settings.as_env(),
                                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)
    with _lock:
        _procs[(str(settings.data_dir), source)] = proc
    return run_id
