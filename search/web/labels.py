"""Chinese names for every code the staff see: content types, libraries, facets, run states, error kinds,
classifier evidence, library-entry fields, schedules, and the messages of the project's errors.

One table per kind of code; the templates and the API schema read them through the functions here, so a code
never reaches a page raw (an unknown code is shown as it is, after the known part of it is translated).
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from core.schedule import parse_schedule
from search.labels import LIBRARY_LABELS, content_type_labels

# -- codes of the taxonomy and the query model --------------------------------------------------------------------
#: content types by their names in the shipped taxonomy (an edited taxonomy is read per app: ``deps.Vocabulary``)
CONTENT_TYPES = content_type_labels()
LIBRARIES = LIBRARY_LABELS
LIBRARY_NOTES = {
    "problem": (
        "问题库收集企业和机构公开发布的技术需求（难题征集、技术需求、揭榜挂帅）。"
        "抓取时被分类为「需求」的文档会自动生成条目：需求方、需求内容、截止日期、预算和联系方式。"
    ),
    "project": (
        "项目库收集科技成果（成果转化、专利、获奖项目）。被分类为「成果」的文档会自动生成条目："
        "完成单位、阶段和关键数据。"
    ),
    "talent": "人才库收集文档中出现的科技人才（院士、教授、研究员等）：姓名、职称和单位，并链接到提到他们的每篇文档。",
}
FACETS = {
    "content_type": "类型",
    "scitech": "科技相关",
    "domains": "领域",
    "region": "地区",
    "source": "来源",
    "libraries": "入库",
    "month": "月份",
}
SORTS = {"relevance": "按相关度", "date": "按日期"}
MODES = {"immediate": "即时推送", "digest": "定时摘要"}
ROLES = {"admin": "管理员", "staff": "工作人员"}

# -- crawl runs ---------------------------------------------------------------------------------------------------
RUN_STATUS = {
    "ok": "成功",
    "partial": "部分成功",
    "failed": "失败",
    "running": "进行中",
    "queued": "排队中",
    "interrupted": "已中断",
    "timeout": "超时停止",
    "busy": "已在抓取",
    "skipped": "已跳过",
}
ERROR_KINDS = {
    "dns": "域名无法解析",
    "timeout": "请求超时",
    "connection-refused": "连接被拒绝",
    "connection": "连接中断",
    "robots": "robots.txt 禁止",
    "redirect-loop": "重定向循环",
    "ignored": "已忽略",
    "not-html": "不是网页",
    "too-large": "页面过大",
    "too-complex": "页面过于复杂",
    "blocked-private": "内网地址已拦截",
    "not-started": "未能启动",
    "empty-body": "正文为空",
    "decode": "编码无法识别",
    "store": "写入失败",
    "tls": "TLS 证书错误",
    "ssl": "TLS 证书错误",
    "crawl-timeout": "抓取超时",
    "other": "其他错误",
}
_HTTP_REASONS = {
    400: "请求无效",
    401: "需要认证",
    403: "禁止访问",
    404: "页面不存在",
    410: "页面已删除",
    429: "请求过多",
    500: "服务器错误",
    502: "网关错误",
    503: "服务不可用",
    504: "网关超时",
}
HEALTH = {
    "extracted": "正文提取成功率",
    "dated": "有日期",
    "titled": "有标题",
    "empty": "正文为空",
    "too_short": "正文过短",
    "list_pages": "列表页",
    "articles": "文章页",
}
DELIVERY_STATES = {
    "queued": "等待摘要",
    "pending": "发送中",
    "sent": "已送达",
    "failed": "发送失败",
    "cancelled": "已取消",
}


def run_status(code: Any) -> str:
    return RUN_STATUS.get(str(code or ""), str(code or "未知"))


def error_kind(code: Any) -> str:
    """``http-404`` → ``HTTP 404（页面不存在）``; ``dns`` → ``域名无法解析``; unknown kinds as they are."""
    text = str(code or "")
    m = re.fullmatch(r"http[-_](\d{3})", text)
    if m:
        status = int(m.group(1))
        reason = _HTTP_REASONS.get(status, "客户端错误" if status < 500 else "服务器错误")
        return f"HTTP {status}（{reason}）"
    known = ERROR_KINDS.get(text) or ERROR_KINDS.get(text.replace("_", "-"))
    if known:
        return known
    for pattern, kind in _EXCEPTION_KINDS:  # exception class names (older run records)
        if pattern.search(text):
            return ERROR_KINDS[kind]
    return text


_EXCEPTION_KINDS = [
    (re.compile(r"ConnectionRefused", re.I), "connection-refused"),
    (re.compile(r"DNS|Lookup|Resolve|NAME_NOT_RESOLVED", re.I), "dns"),
    (re.compile(r"Timeout|TimedOut", re.I), "timeout"),
    (re.compile(r"ConnectionLost|ConnectError|ResponseNeverReceived|ResponseFailed|CONNECTION_", re.I), "connection"),
    (re.compile(r"SSL|TLS|CERT", re.I), "tls"),
]


# -- classifier evidence ------------------------------------------------------------------------------------------
_EVIDENCE_PREFIX = {
    "rules": "规则得分",
    "model": "模型",
    "hint": "数据源提示",
    "field": "字段",
    "pattern": "句式",
    "title": "标题词",
    "text": "正文词",
    "body": "正文词",
    "host": "网站",
    "provinces": "涉及省份数",
    "url": "网址",
    "outlet": "原发媒体",
}
_EVIDENCE_WORDS = {"domain": "领域概率", "content_type": "类型"}


def evidence_key(key: Any) -> str:
    """``relevance`` → 科技相关度依据; ``content_type:policy`` → 类型「政策」的依据; ``domain:电子信息`` → 领域「电子信息」…"""
    text = str(key)
    if text == "relevance":
        return "科技相关度依据"
    kind, _, value = text.partition(":")
    if kind == "content_type":
        return f"类型「{CONTENT_TYPES.get(value, value)}」的依据"
    if kind == "domain":
        return f"领域「{value}」的依据"
    if kind == "region":
        return f"地区「{value}」的依据"
    return text


def evidence_item(item: Any) -> str:
    """``rules:+3.23/-1.11`` → ``规则得分 +3.23/-1.11``; ``hint:content_type=policy`` → ``数据源提示 类型=政策``."""
    if not isinstance(item, str):
        item = " ".join(map(str, item)) if isinstance(item, list | tuple) else str(item)
    prefix, sep, rest = item.partition(":")
    if not sep or prefix not in _EVIDENCE_PREFIX:
        return item
    for word, name in _EVIDENCE_WORDS.items():
        if rest.startswith(word):
            rest = name + rest[len(word) :]
    rest = re.sub(r"类型=(\w+)", lambda m: "类型=" + CONTENT_TYPES.get(m.group(1), m.group(1)), rest)
    return f"{_EVIDENCE_PREFIX[prefix]} {rest}"


# -- library entries and documents -----------------------------------------------------------------------------------
ENTRY_FIELDS = {
    "need": "需求内容",
    "organization": "需求方",
    "owner": "完成单位",
    "affiliation": "单位",
    "title": "职称 / 头衔",
    "stage": "阶段",
    "key_numbers": "关键数据",
    "domains": "领域",
    "region": "地区",
    "deadline": "截止日期",
    "budget": "预算",
    "contact": "联系方式",
    "created": "创建时间",
    "updated": "更新时间",
    "first_seen": "首次发现",
    "last_seen": "最近发现",
    "source": "来源",
    "sources": "来源",
    "count": "文档数",
    "aliases": "别名",
}
DOC_FIELDS = {
    "doc_number": "发文字号",
    "issuer": "发文机关",
    "issued": "成文日期",
    "effective": "施行日期",
    "index_number": "索引号",
    "category": "主题分类",
    "subject": "主题词",
    "validity": "有效性",
}


def field_name(key: Any) -> str:
    text = str(key)
    return ENTRY_FIELDS.get(text) or DOC_FIELDS.get(text) or text


# -- schedules --------------------------------------------------------------------------------------------------------
_UNIT_WORDS = {1: "秒", 60: "分钟", 3600: "小时", 86400: "天"}
_WEEKDAYS = ["周日", "周一", "周二", "周三", "周四", "周五", "周六", "周日"]


def _interval_words(seconds: float) -> str:
    for unit in (86400, 3600, 60, 1):
        if seconds >= unit and seconds % unit == 0:
            n = int(seconds // unit)
            return f"每 {n} {_UNIT_WORDS[unit]}"
    return f"每 {seconds:g} 秒"


def _cron_list(field: str, names: list[str] | None = None, unit: str = "") -> str | None:
    parts = []
    for piece in field.split(","):
        if re.fullmatch(r"\d+", piece):
            parts.append(names[int(piece) % len(names)] if names else f"{int(piece)}{unit}")
        elif re.fullmatch(r"\d+-\d+", piece):
            a, b = (int(x) for x in piece.split("-"))
            parts.append(f"{names[a % len(names)]}至{names[b % len(names)]}" if names else f"{a}–{b}{unit}")
        else:
            return None
    return "、".join(parts)


@lru_cache(maxsize=256)
def schedule_text(schedule: str) -> str:
    """``every 6h`` → 每 6 小时; ``0 7 * * *`` → 每天 07:00; ``0 */2 * * *`` → 每 2 小时（整点）; others
    in words as far as they go, with the expression after them."""
    text = str(schedule or "").strip()
    try:
        kind, value = parse_schedule(text)
    except ValueError:
        return text
    if kind == "interval":
        return _interval_words(float(value))
    minute, hour, dom, month, dow = text.split()
    words: str | None = None
    if re.fullmatch(r"\d+", minute):
        mm = int(minute)
        if re.fullmatch(r"\d+", hour):
            at = f"{int(hour):02d}:{mm:02d}"
        elif hour == "*":
            at = f"每小时第 {mm} 分"
        elif re.fullmatch(r"\*/\d+", hour):
            at = f"每 {hour[2:]} 小时（{mm:02d} 分）" if mm else f"每 {hour[2:]} 小时（整点）"
        else:
            hours = _cron_list(hour, unit="")
            at = f"{hours} 点 {mm:02d} 分" if hours else ""
        if at:
            if month != "*":
                words = None
            elif dom == "*" and dow == "*":
                words = at if at.startswith("每") else f"每天 {at}"
            elif dom == "*":
                days = _cron_list(dow, _WEEKDAYS)
                words = f"每{days} {at}" if days else None
            elif dow == "*":
                days = _cron_list(dom, unit=" 日")
                words = f"每月 {days} {at}" if days else None
    elif re.fullmatch(r"\*/\d+", minute) and hour == dom == month == dow == "*":
        words = f"每 {minute[2:]} 分钟"
    return f"{words}（cron {text}）" if words else f"按 cron 表达式 {text}"




# -- subscriptions ------------------------------------------------------------------------------------------------
_WEEKDAY_CODES = {"mon": "周一", "tue": "周二", "wed": "周三", "thu": "周四", "fri": "周五", "sat": "周六", "sun": "周日"}
WEEKDAY_CHOICES = list(_WEEKDAY_CODES.items())
_CHANNELS = {
    "http": "Webhook",
    "https": "Webhook",
    "json": "Webhook",
    "jsons": "Webhook",
    "xml": "Webhook（XML）",
    "xmls": "Webhook（XML）",
    "form": "Webhook（表单）",
    "forms": "Webhook（表单）",
    "mailto": "邮件",
    "mailtos": "邮件",
    "dingtalk": "钉钉机器人",
    "wecombot": "企业微信机器人",
    "feishu": "飞书机器人",
    "lark": "飞书机器人",
}


def schedule_of_subscription(mode: Any, digest_at: Any) -> str:
    """``immediate`` → 即时推送; ``daily@08:00`` → 每天 08:00 摘要; ``weekly@mon 08:00`` → 每周一 08:00 摘要."""
    if mode != "digest":
        return "即时推送"
    text = str(digest_at or "daily@08:00")
    m = re.fullmatch(r"(?:(daily)@|(weekly)@(\w{3})\s+)?(\d{1,2}):(\d{2})", text.strip().lower())
    if not m:
        return f"定时摘要 {text}"
    at = f"{int(m.group(4)):02d}:{m.group(5)}"
    if m.group(2):
        return f"每{_WEEKDAY_CODES.get(m.group(3), m.group(3))} {at} 摘要"
    return f"每天 {at} 摘要"


def channel(url: Any) -> str:
    """What a notification URL is, for people, without its secrets: ``邮件 → li@example.com``,
    ``Webhook → hooks.example.com``, ``钉钉机器人``."""
    text = str(url or "")
    scheme = text.split("://", 1)[0].lower() if "://" in text else ""
    kind = _CHANNELS.get(scheme, scheme or "地址")
    rest = text.split("://", 1)[1] if "://" in text else text
    if scheme in ("mailto", "mailtos"):
        m = re.search(r"[?&]to=([^&]+)", rest)
        return f"{kind} → {m.group(1)}" if m else kind
    if kind.startswith("Webhook"):
        host = rest.split("/", 1)[0].rsplit("@", 1)[-1]
        return f"{kind} → {host}"
    return kind
