"""Fields of problem and project entries: the organisation, deadline, budget, contact, stage and key numbers."""

from __future__ import annotations

import re

_DATE = (
    r"(?:\d{4}\s*年\s*\d{1,2}\s*月\s*\d{1,2}\s*日|\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}\s*月\s*\d{1,2}\s*日)"
)
_DEADLINE = re.compile(
    rf"(?:截止|截至|报名|申报|征集)(?:日期|时间)?[^。\n]{{0,12}}?({_DATE})|({_DATE})\s*(?:前|之前|截止)"
)
_MONEY = r"\d+(?:\.\d+)?\s*(?:万元|亿元|万|元|亿)"
_BUDGET = re.compile(
    rf"(?:预算|经费|资金|投入|悬赏|奖金|榜额|支持金额|合作金额)[^。\n，,]{{0,12}}?({_MONEY})"
)
_ORG_FIELD = re.compile(
    r"(?:需求单位|需求方|需求企业|发榜单位|发布单位|征集单位|完成单位|成果单位|所属单位|研发单位|单位名称|申报单位|"
    r"专利权人|申请人|持有单位|依托单位|承担单位|企业名称)\s*[：:]\s*([^\s，,。；;\n]{2,40})"
)
_ORG_NAME = re.compile(
    r"[\u4e00-\u9fffA-Za-z（）()]{2,30}?(?:大学|学院|研究所|研究院|科学院|医院|有限责任公司|股份有限公司|有限公司|集团|"
    r"实验室|研究中心)"
)
_CONTACT = re.compile(
    r"(?:联系人|联系方式|联系电话|电话|邮箱|E-?mail)\s*[：:]\s*([^\n。；;]{2,60})", re.IGNORECASE
)
_STAGE = re.compile(
    r"技术成熟度\s*[：:为]?\s*\d+\s*级|TRL\s*\d|实验室阶段|小试阶段?|中试阶段?|小批量(?:生产|试产)?|批量生产|试生产|"
    r"样机阶段?|已量产|量产|产业化阶段|已投产|投入使用|商用|已转化|推广应用"
)
_NUMBER_SNIPPET = re.compile(
    r"[^。；;\n，,]{0,16}?\d+(?:\.\d+)?\s*(?:%|％|倍|万元|亿元|亿|万|纳米|nm|GHz|MHz|TOPS|TFLOPS|瓦|千瓦|兆瓦|吨|公斤|"
    r"千克|公里|米|项|件|个百分点|小时)[^。；;\n，,]{0,10}",
    re.IGNORECASE,
)
_NEED_SENTENCE = re.compile(r"[^。\n]{0,80}(?:需求|难题|亟需|亟待|需要解决|拟解决|征集)[^。\n]{0,80}")


def _first(pattern: re.Pattern[str], text: str, group: int = 1) -> str:
    m = pattern.search(text)
    if not m:
        return ""
    if group and m.lastindex:
        for g in range(1, (m.lastindex or 0) + 1):
            if m.group(g):
                return m.group(g).strip()
    return m.group(0).strip()


def _owner(text: str) -> str:
    owner = _first(_ORG_FIELD, text)
    if owner:
        return owner
    m = re.search(r"由\s*([^，,。\n]{2,30}?)(?:研发|研制|开发|发布|完成|牵头|自主研发|联合)", text)
    if m and _ORG_NAME.search(m.group(1)):
        return m.group(1).strip()
    m = _ORG_NAME.search(text[:600])
    return m.group(0) if m else ""
