"""Routing into the three libraries, with structured extraction.

* **problem** library (a stated technical need, call for solutions, 揭榜挂帅): the need, the organisation posting
  it, domains, region, deadline and budget when stated;
* **project** library (an achievement: research result, patent, product, technology transfer): the achievement,
  the owning institution or enterprise, domains, maturity/stage, key numbers, contact when stated;
* **talent** library: every person presented as a scientist, engineer or expert — name, title, affiliation,
  domains. Journalists and editors (记者, 编辑, 责编, 通讯员 ...) are never talents. An entry's id is a stable
  hash of the name and the affiliation, so the same person found in several documents is one entry.

:func:`route` is the pure function; :class:`RoutePipeline` sets ``article.libraries`` and ``article.entries``
(the store merges entries by id: union of ``doc_ids``, newer fields win).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from core.items import Article

LIBRARIES = ("problem", "project", "talent")

# ----------------------------------------------------------------------------------------------------------
# people
# ----------------------------------------------------------------------------------------------------------
_SINGLE_SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蔡蒋余于杜叶程魏苏吕丁任沈姚卢"
    "姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔汤向常温康施"
    "文牛樊葛邢安齐易乔伍庞颜倪庄聂章鲁岳翟殷詹申欧耿关兰焦俞左柳甘祝包宁尚符舒阮柯纪梅童凌毕单季裴霍涂成苗谷"
    "盛曲翁冉骆蓝路游辛靳管柴蒙鲍华喻祁蒲房滕屈饶解牟艾尤阳时穆农司卓古吉缪简车项连芦麦褚娄窦戚岑景党宫费卜冷"
    "晏席卫米柏宗瞿桂全佟应臧闵苟邬边卞姬师仇栾隋商刁沙荣巫寇桑郎甄丛仲虞敖巩明佘池查麻苑迟邝封钭"
    "竺蔺晁郜储缑闻修厉占寿屠阎谈容危揭植匡练"
)
_COMPOUND_SURNAMES = (
    "欧阳",
    "司马",
    "诸葛",
    "上官",
    "东方",
    "皇甫",
    "令狐",
    "慕容",
    "尉迟",
    "公孙",
    "司徒",
    "夏侯",
    "端木",
    "长孙",
    "宇文",
    "澹台",
    "万俟",
    "独孤",
    "南宫",
    "西门",
)
SURNAMES = frozenset(_SINGLE_SURNAMES)

# titles that make a person a talent; longest first so that 副研究员 wins over 研究员
_TITLE_WORDS = (
    "中国科学院院士",
    "中国工程院院士",
    "两院院士",
    "院士",
    "首席科学家",
    "首席专家",
    "首席技术官",
    "首席工程师",
    "副总工程师",
    "总工程师",
    "正高级工程师",
    "高级工程师",
    "工程师",
    "高工",
    "特聘研究员",
    "副研究员",
    "研究员",
    "讲座教授",
    "特聘教授",
    "副教授",
    "教授",
    "博士生导师",
    "博导",
    "副主任医师",
    "主任医师",
    "主任药师",
    "主治医师",
    "技术专家",
    "专家",
    "科学家",
    "博士后",
    "博士研究生",
    "博士",
    "架构师",
    "讲师",
    "学者",
)
# positions that count only together with an organisation (院长 of an institute, not 市长 of a city)
_POSITION_WORDS = (
    "副院长",
    "院长",
    "副所长",
    "所长",
    "副校长",
    "校长",
    "副主任",
    "主任",
    "副理事长",
    "理事长",
    "副秘书长",
    "秘书长",
    "首席执行官",
)
# organisations whose heads count as experts (a university's 校长, an institute's 所长; not a company's 董事长)
_RESEARCH_ORG = re.compile(
    r"(?:大学|学院|研究所|研究院|研究中心|研究部|科学院|工程院|实验室|学会|协会|医院|分院|所)$"
)
# company heads count only when a technical title goes with the role (首席技术官兼…总裁)
_BUSINESS_POSITIONS = ("董事长", "总经理", "总裁")
_ALL_TITLES = sorted(set(_TITLE_WORDS + _POSITION_WORDS + _BUSINESS_POSITIONS), key=len, reverse=True)
_TITLE_ALT = "|".join(map(re.escape, _ALL_TITLES))
_TITLE_RE = re.compile(_TITLE_ALT)

_ORG_SUFFIX = re.compile(
    r"(?:大学|学院|研究所|研究院|研究中心|研究部|科学院|工程院|医院|有限责任公司|股份有限公司|有限公司|公司|集团|"
    r"实验室|中心|学会|协会|学校|中学|分院|事务所|基金会|工作室|研究会|科技园|设计院|卫生院|厂|"
    r"(?<=[学程术理化物机息])系)"
)
# a person's name never spans these; they end the text read before or after a title
_DELIMS = set("，,。；;：:、\n（）()“”\"‘’'《》【】[]！!？?—-·•|/ \t")
# characters that end a name when they follow two name characters (张三说 → 张三)
_AFTER_NAME = set(
    "说表认指介在的是和与及等为也就称曾带领对将从把被已向给所这那以作获荣担任主出参受接发提分共现教研博总副院应透谈坦回告评"
)
# third characters that make a three-character reading unlikely (王志强 is a name; 张三说 is not)
_NOT_THIRD = set("说表认指在的是和与及等为也就称曾对将从把被已向给所这那以获担出参受接提应介教研博总副院")
# characters that cannot start a name even if they are surnames, when read backwards (向张三教授 → 张三)
_BEFORE_NAME = set("向于和与及对将把被给为由是在请同邀称经据从以任")
# words that begin with a surname character but are not names
_NOT_NAMES = frozenset(
    [
        "简介",
        "简历",
        "农机",
        "农科",
        "余名",
        "余位",
        "余人",
        "余家",
        "余项",
        "华人",
        "华侨",
        "莫不",
        "莫过",
        "文地",
        "高度",
        "高级",
        "高新",
        "高端",
        "高校",
        "高速",
        "高效",
        "高层",
        "高质",
        "高水平",
        "高温",
        "方面",
        "方式",
        "方案",
        "方向",
        "方法",
        "方便",
        "万元",
        "金融",
        "金额",
        "江苏",
        "江西",
        "黄金",
        "常务",
        "常委",
        "常规",
        "常年",
        "时间",
        "时候",
        "时代",
        "时期",
        "于是",
        "向来",
        "任务",
        "任职",
        "任何",
        "成果",
        "成功",
        "成员",
        "成为",
        "成立",
        "文章",
        "文化",
        "文件",
        "石油",
        "田间",
        "安全",
        "安排",
        "明确",
        "应用",
        "关于",
        "关键",
        "周年",
        "周边",
        "何时",
        "原因",
        "马上",
        "林业",
        "程序",
        "龙头",
        "包括",
        "经济",
        "路上",
        "路线",
        "连续",
        "宁夏",
        "华为",
        "华南",
        "华东",
        "华北",
        "华中",
        "华西",
        "国家",
        "国际",
        "全国",
        "全球",
        "全面",
        "全体",
        "全部",
        "中国",
        "中心",
        "中科",
        "钱学",
        "牛津",
        "房屋",
        "管理",
        "管委",
        "管网",
        "党委",
        "党组",
        "党支",
        "党员",
        "邢台",
        "柳州",
        "秦岭",
        "申请",
        "申报",
        "和平",
        "和谐",
        "商务",
        "商业",
        "沙龙",
        "荣获",
        "荣誉",
        "景区",
        "宫颈",
        "谷歌",
        "师生",
        "师范",
        "卫生",
        "卫星",
        "车辆",
        "车企",
        "苗木",
        "叶片",
        "叶面",
        "毛泽",
        "习近",
        "李克",
        "蓝色",
        "白色",
        "黑色",
        "红色",
        "绿色",
        "温度",
        "温室",
        "康复",
        "施工",
        "齐全",
        "易于",
        "乔木",
        "庞大",
        "颜色",
        "庄园",
        "章程",
        "鲁棒",
        "岳阳",
        "耿直",
        "关注",
        "兰州",
        "焦点",
        "左右",
        "甘肃",
        "包装",
        "尚未",
        "符合",
        "舒适",
        "阮一",
        "纪念",
        "纪律",
        "纪委",
        "梅州",
        "童年",
        "凌晨",
        "毕业",
        "单位",
        "单独",
        "季度",
        "裴多",
        "霍乱",
        "涂层",
        "成都",
        "苗族",
        "谷物",
        "盛大",
        "曲线",
        "翁源",
        "冉冉",
        "骆驼",
        "蓝牙",
        "路由",
        "游戏",
        "游客",
        "辛苦",
        "管道",
        "柴油",
        "蒙古",
        "鲍鱼",
        "华中",
        "喻为",
        "房地",
        "滕州",
        "屈服",
        "饶平",
        "解决",
        "解放",
        "解读",
        "牟利",
        "艾滋",
        "尤其",
        "阳光",
        "时任",
        "穆斯",
        "农业",
        "农民",
        "农村",
        "司机",
        "司法",
        "卓越",
        "古代",
        "吉林",
        "缪斯",
        "简单",
        "简称",
        "车间",
        "项目",
        "连接",
        "麦克",
        "褚橙",
        "娄底",
        "窦性",
        "戚继",
        "岑溪",
        "景观",
        "党的",
        "宫廷",
        "费用",
        "卜卦",
        "冷却",
        "晏婴",
        "席位",
        "卫健",
        "米粉",
        "柏林",
        "宗旨",
        "桂林",
        "全市",
        "全省",
        "佟丽",
        "应该",
        "应当",
        "边境",
        "卞和",
        "姬鹏",
        "师傅",
        "和田",
        "仇恨",
        "商品",
        "刁难",
        "沙漠",
        "荣耀",
        "巫山",
        "寇准",
        "桑葚",
        "郎平",
        "甄选",
        "丛书",
        "仲裁",
        "虞美",
        "敖包",
        "巩固",
        "明年",
        "明天",
        "明显",
        "佘山",
        "池塘",
        "查询",
        "查看",
        "麻醉",
        "苑囿",
        "迟到",
        "封闭",
        "封装",
        "钭阳",
        "竺可",
        "闻名",
        "高工",
        "高管",
        "万家",
        "万亿",
        "方可",
        "周期",
        "周末",
        "项链",
        "曾经",
        "曾任",
        "于此",
        "余额",
        "余下",
        "余家",
        "杜绝",
        "叶子",
        "程度",
        "魏国",
        "苏州",
        "吕梁",
        "丁香",
        "任命",
        "沈阳",
        "姚明",
        "卢沟",
        "姜汁",
        "崔健",
        "钟表",
        "钟点",
        "谭家",
        "陆续",
        "陆地",
        "汪洋",
        "范围",
        "范例",
        "石家",
        "贾汪",
        "夏天",
        "夏季",
        "韦氏",
        "付款",
        "付出",
        "白天",
        "邹城",
        "孟子",
        "熊猫",
        "秦皇",
        "邱县",
        "江门",
        "尹家",
        "薛定",
        "段落",
        "雷达",
        "侯选",
        "龙江",
        "史料",
        "陶瓷",
        "黎巴",
        "贺信",
        "顾客",
        "顾问",
        "毛利",
        "郝家",
        "龚家",
        "邵阳",
        "严格",
        "严重",
        "严禁",
        "覃家",
        "武汉",
        "武器",
        "戴帽",
        "莫斯",
        "孔子",
        "汤姆",
        "常州",
        "温州",
        "康熙",
        "文物",
        "牛肉",
        "樊城",
        "葛洲",
        "邢某",
        "安徽",
        "安阳",
        "齐鲁",
        "易经",
        "伍家",
        "倪家",
        "聂家",
        "章丘",
        "鲁迅",
        "王者",
        "王朝",
        "王国",
        "张家",
        "李家",
        "刘家",
        "陈列",
        "杨浦",
        "黄河",
        "黄埔",
        "赵家",
        "吴江",
        "周口",
        "徐州",
        "孙子",
        "马来",
        "马克",
        "朱家",
        "胡同",
        "郭家",
        "何以",
        "林业",
        "罗马",
        "高铁",
        "高考",
        "郑州",
        "梁山",
        "谢谢",
        "宋代",
        "唐代",
        "许多",
        "许可",
        "韩国",
        "冯家",
        "邓小",
        "曹操",
        "彭城",
        "曾国",
        "肖像",
        "田径",
        "董事",
        "袁隆",
        "潘家",
        "蔡家",
        "蒋介",
        "于都",
    ]
)
_JOURNALIST = re.compile(
    r"(?:记者|编辑|责编|责任编辑|通讯员|实习生|摄影|摄像|撰文|撰稿|校对|审核|编审|主编|作者|来源)"
    r"\s*[：:]?\s*((?:[\u4e00-\u9fff]{2,4}[\s、，,/]*){1,6})"
)
_CJK = re.compile(r"[\u4e00-\u9fff]")


@dataclass
class Talent:
    name: str
    title: str
    affiliation: str


_NON_NAME_CHARS = set("院所部局厅省市县区们会司处业企的了是在")
_BEFORE_OK = re.compile(
    r"(?:大学|学院|研究所|研究院|中心|科学院|工程院|医院|公司|集团|实验室|学会|协会|学校|中学|分院|所|部|院|会|"
    r"长|师|员|授|士|家|记|任|理|官|者|人|生|的|原|副|兼|著名|知名|资深|青年|"
    + "|".join(map(re.escape, _BEFORE_NAME))
    + r")$"
)


def _is_name(name: str, reverse: bool = False) -> bool:
    if len(name) < 2 or len(name) > 4 or not all(_CJK.match(c) for c in name):
        return False
    if any(c in _NON_NAME_CHARS for c in name[1:]):
        return False
    if name[:2] in _COMPOUND_SURNAMES:
        return len(name) >= 3
    if name[0] not in SURNAMES or len(name) > 3:
        return False
    if name[:2] in _NOT_NAMES or name in _NOT_NAMES:
        return False
    if len(name) == 3 and name[2] in _NOT_THIRD and not reverse:
        return False
    return not any(
        t in name for t in ("院士", "教授", "专家", "研究", "工程", "大学", "学院", "公司", "主任")
    )


def _boundary_after(text: str, end: int) -> bool:
    """A name may end here: end of text, a delimiter, a verb or particle, or a title/honorific."""
    if end >= len(text):
        return True
    ch = text[end]
    if ch in _DELIMS or not _CJK.match(ch) or ch in _AFTER_NAME:
        return True
    rest = text[end : end + 7]
    return bool(_TITLE_RE.match(rest)) or rest.startswith(("先生", "女士", "同志", "老师", "团队", "课题组"))


def _boundary_before(text: str, start: int) -> bool:
    """A name may start here: start of text, a delimiter, an organisation, a title or a function word."""
    if start <= 0:
        return True
    ch = text[start - 1]
    if ch in _DELIMS or not _CJK.match(ch):
        return True
    return bool(_BEFORE_OK.search(text[max(0, start - 8) : start]))


def _name_after(text: str, start: int) -> str:
    """A name starting at ``start`` (after a title): 3 characters unless the third ends the name."""
    run = []
    for ch in text[start : start + 4]:
        if ch in _DELIMS or not _CJK.match(ch):
            break
        run.append(ch)
    s = "".join(run)
    cands = [s[:4], s[:3]] if s[:2] in _COMPOUND_SURNAMES else [s[:3], s[:2]]
    for cand in cands:
        if text.startswith(("先生", "女士", "同志", "老师"), start + len(cand) - 1):
            continue
        if len(cand) >= 2 and _is_name(cand) and _boundary_after(text, start + len(cand)):
            return cand
    return ""


def _name_before(text: str, end: int) -> str:
    """A name ending at ``end`` (just before a title), read backwards."""
    run: list[str] = []
    i = end - 1
    while i >= 0 and len(run) < 4:
        ch = text[i]
        if ch in _DELIMS or not _CJK.match(ch):
            break
        run.append(ch)
        i -= 1
    s = "".join(reversed(run))
    for n in (4, 3, 2):
        cand = s[-n:] if len(s) >= n else ""
        if not cand:
            continue
        if n == 4 and cand[:2] not in _COMPOUND_SURNAMES:
            continue
        if n == 3 and cand[0] in _BEFORE_NAME:
            continue
        if _is_name(cand, reverse=True) and _boundary_before(text, end - n):
            return cand
    return ""


_CUT_WORDS = (
    "专访",
    "对话",
    "访谈",
    "走近",
    "邀请",
    "来自",
    "担任",
    "出席",
    "参加",
    "以及",
    "接诊",
    "由",
    "据",
    "经",
    "向",
    "是",
    "在",
    "对",
    "的",
    "了",
    "找",
    "到",
    "赴",
    "和",
    "与",
    "及",
)
_SOFT_CUT = ("和", "与", "及")  # inside names of organisations too: 信息与通信工程学院


def _segment_before(text: str, end: int, limit: int = 30) -> str:
    """The text before ``end`` back to the nearest delimiter or function word."""
    start = max(0, end - limit)
    seg = text[start:end]
    cut = max((seg.rfind(d) for d in _DELIMS), default=-1)
    seg = seg[cut + 1 :]
    for w in _CUT_WORDS:
        k = seg.rfind(w)
        if k < 0:
            continue
        rest = seg[k + len(w) :]
        if not _ORG_SUFFIX.search(rest):
            continue
        before = seg[:k]
        if (
            w in _SOFT_CUT
            and before
            and not (_ORG_SUFFIX.search(before[-4:]) or _TITLE_RE.search(before[-5:]))
        ):
            continue
        seg = rest
    return seg


def _org_and_position(seg: str) -> tuple[str, str]:
    """Split the text before a name into organisation and position: 西南大学党委书记 → (西南大学, 党委书记)."""
    last = None
    for m in _ORG_SUFFIX.finditer(seg):
        last = m
    if last is None:
        return "", seg
    org, pos = seg[: last.end()], seg[last.end() :]
    if pos.startswith(("院士", "会士")):  # 中国科学院院士: the academy is part of the title
        return "", seg
    org = re.sub(r"^(?:原|前|现任|现|曾任)", "", org)
    if len(_CJK.findall(org)) < 3:
        return "", seg
    return org, pos.strip("的")


def _bylines(text: str) -> set[str]:
    """Names of journalists, editors, photographers: never talents."""
    out: set[str] = set()
    for m in _JOURNALIST.finditer(text):
        for part in re.split(r"[\s、，,/]+", m.group(1)):
            if len(part) >= 2:
                out.update((part[:4], part[:3], part[:2]))
    return out


_AWARD = re.compile(r"(?:荣获|获得|获评|获|当选|入选)")
_NAMED_BY_ORG = re.compile(r"研究所|研究院|科学院|实验室|研究中心|研究部|大学|学院")
_EXPERT_SAYS = re.compile(r"(?:却|也|则|还|曾)?(?:撰文|指出|认为|分析|表示|解释|介绍说|建议|强调)")
_WORKS_AT = re.compile(
    r"([\u4e00-\u9fff]{2,3})(?:已|曾|现|一直|长期)?在"
    r"([\u4e00-\u9fff]{2,24}?(?:大学|学院|研究所|研究院|科学院|实验室|研究中心)[\u4e00-\u9fff]{0,8}?)"
    r"(?:任教|执教|任研究员|从事[\u4e00-\u9fff]{0,12}研究)"
)
_WORKS_AT_WORDS = ("任教", "执教", "任研究员", "从事")
_CITED = re.compile(r"\[[JMCDR]\]")
_CITATION = re.compile(
    r"(?:^|[\n：:；;。\s])((?:[\u4e00-\u9fff]{2,3}[,，、])*[\u4e00-\u9fff]{2,3})(?:等)?[.．]\s*"
    r"[^\n\[\]]{4,80}\[[JMCDR]\]"
)


def extract_talents(text: str, title: str = "") -> list[Talent]:
    """Persons presented as scientists, engineers or experts, in order of first mention, one per name."""
    full = f"{title}\n{text}" if title else text
    excluded = _bylines(full)
    found: dict[str, Talent] = {}

    def add(name: str, word: str, seg: str) -> None:
        if not name or name in excluded:
            return
        org, pos = _org_and_position(seg)
        if word in _POSITION_WORDS and not (org and _RESEARCH_ORG.search(org)):
            return  # 院长/主任 without a research organisation: an administrative role, not a talent
        if word in _BUSINESS_POSITIONS and not any(t in pos for t in _TITLE_WORDS):
            return  # a company's 董事长 is an expert only with a technical title (首席技术官, 总工程师)
        pos = pos.strip("、，, ") if org or pos.endswith(("院士", "科学院", "工程院")) else ""
        if pos and (len(pos) > 16 or _is_name(pos)):
            pos = ""
        if word in _POSITION_WORDS or word in _BUSINESS_POSITIONS or pos.endswith(("科学院", "工程院")):
            full_title = pos + word
        else:
            full_title = "、".join(p for p in (word, pos) if p)
        prev = found.get(name)
        if prev is None:
            found[name] = Talent(name, full_title, org)
        else:
            if not prev.affiliation and org:
                prev.affiliation = org
            if word and word not in prev.title:
                prev.title = "、".join(p for p in (prev.title, word) if p)

    for m in _TITLE_RE.finditer(full):
        word = m.group(0)
        # title then name: 中国工程院院士王小谟, 研究员朱巍认为
        after = _name_after(full, m.end())
        if after:
            add(after, word, _segment_before(full, m.start()))
        # name then title: 王小云院士, 南京大学黄贤金教授
        if word in _TITLE_WORDS and word != "讲座教授":  # 杨振宁讲座教授 names a chair
            before = _name_before(full, m.start())
            if before:
                add(before, word, _segment_before(full, m.start() - len(before)))
    orgs = list(_ORG_SUFFIX.finditer(full))
    # an award to a researcher of an institute: 北京生命科学研究所邵峰荣获
    for m in orgs:
        if not re.match(r"研究所|研究院|科学院|实验室|研究中心|大学|学院", m.group(0)):
            continue
        for n in (2, 3):
            name = full[m.end() : m.end() + n]
            if _is_name(name) and _AWARD.match(full, m.end() + n) and _boundary_before(full, m.end()):
                add(name, "", _segment_before(full, m.end()))
                break
    # a researcher of an institute in an award list (…研究所王贻芳、…教授陆锦标获…奖) or speaking as its
    # expert (…研究中心技术经济研究部的郭励弘却撰文指出)
    for m in orgs:
        if not _NAMED_BY_ORG.match(m.group(0)) or not _boundary_before(full, m.end()):
            continue
        start = m.end() + (1 if full.startswith("的", m.end()) else 0)
        for n in (3, 2):
            name = full[start : start + n]
            if not _is_name(name, reverse=n == 2):
                continue
            clause = full[start + n : start + n + 40].split("。", 1)[0]
            listed = full[start + n : start + n + 1] in "、，," and bool(_AWARD.search(clause))
            if listed or _EXPERT_SAYS.match(full, start + n):
                add(name, "", _segment_before(full, m.end()))
                break
    # teaching or doing research at a university or institute: 季羡林已在北京大学东方语文系任教
    for m in _WORKS_AT.finditer(full) if any(w in full for w in _WORKS_AT_WORDS) else ():
        name = m.group(1)
        if _is_name(name, reverse=True) and _boundary_before(full, m.start(1)):
            org, _ = _org_and_position(m.group(2))
            add(name, "", org if org else "")
    # the author of a cited paper: 赵培. 淘宝网物流配送存在的问题及对策研究[J]
    for m in _CITATION.finditer(full) if _CITED.search(full) else ():
        for name in re.split(r"[,，、]", m.group(1)):
            if _is_name(name, reverse=True):
                add(name, "", "")
    # a bio: 李金泽，男，1965年生
    for m in re.finditer(r"(?:^|[\n。：:])\s*([\u4e00-\u9fff]{2,4})[，,]\s*[男女][，,]", full):
        if _is_name(m.group(1), reverse=True):
            words = [w.group(0) for w in _TITLE_RE.finditer(full, m.end(), m.end() + 60)]
            add(m.group(1), "、".join(dict.fromkeys(w for w in words if w in _TITLE_WORDS)), "")
    return [t for t in found.values() if t.name not in excluded]


# ----------------------------------------------------------------------------------------------------------
# problem and project fields
# ----------------------------------------------------------------------------------------------------------
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


def stable_id(*parts: str) -> str:
    """A short stable hash of the parts (whitespace removed)."""
    key = "\x1f".join(re.sub(r"\s+", "", p or "") for p in parts)
    return hashlib.sha1(key.encode("utf-8")).hexdigest()[:20]


_AFFILIATION_ALIASES = {
    "中科院": "中国科学院",
    "北大": "北京大学",
    "清华": "清华大学",
    "工程院": "中国工程院",
}


def normalize_affiliation(aff: str) -> str:
    aff = re.sub(r"\s+", "", aff or "")
    for short, full in _AFFILIATION_ALIASES.items():
        if aff.startswith(short) and not aff.startswith(full):
            aff = full + aff[len(short) :]
    return aff


def talent_id(name: str, affiliation: str) -> str:
    return "talent-" + stable_id(name, normalize_affiliation(affiliation))


# ----------------------------------------------------------------------------------------------------------
# routing
# ----------------------------------------------------------------------------------------------------------
def _get(doc: Any, key: str, default: Any = "") -> Any:
    if isinstance(doc, Mapping):
        return doc.get(key, default)
    return getattr(doc, key, default)


def route(article_like: Any, classification: Any) -> list[dict[str, Any]]:
    """Library entries for one document (an :class:`Article` or a mapping with id/title/text/url).

    ``classification`` is a :class:`~pipelines.classify.Classification` (or anything with ``content_type``,
    ``scitech_relevant``, ``domains``, ``region``).
    """
    doc_id = str(_get(article_like, "id") or "")
    title = str(_get(article_like, "search_title") or _get(article_like, "title") or "")
    text = str(_get(article_like, "search_text") or _get(article_like, "text") or "")
    ctype = str(getattr(classification, "content_type", "") or "")
    relevant = bool(getattr(classification, "scitech_relevant", False))
    domains = list(getattr(classification, "domains", []) or [])
    region = getattr(classification, "region", None)
    entries: list[dict[str, Any]] = []
    if not relevant:
        return entries

    if ctype == "demand":
        org = _owner(text)
        need = title or _first(_NEED_SENTENCE, text, group=0)
        entry: dict[str, Any] = {
            "id": "problem-" + stable_id(org, need),
            "library": "problem",
            "name": need,
            "need": _first(_NEED_SENTENCE, text, group=0) or need,
            "organization": org,
            "domains": domains,
            "region": region,
            "doc_ids": [doc_id],
        }
        deadline = _first(_DEADLINE, text)
        budget = _first(_BUDGET, text)
        if deadline:
            entry["deadline"] = re.sub(r"\s+", "", deadline)
        if budget:
            entry["budget"] = re.sub(r"\s+", "", budget)
        contact = _first(_CONTACT, text)
        if contact:
            entry["contact"] = contact
        entries.append(entry)

    if ctype == "achievement":
        owner = _owner(text)
        entry = {
            "id": "project-" + stable_id(title, owner),
            "library": "project",
            "name": title or text[:40],
            "owner": owner,
            "domains": domains,
            "region": region,
            "doc_ids": [doc_id],
        }
        stage = _first(_STAGE, text, group=0)
        if stage:
            entry["stage"] = stage
        numbers = []
        for m in _NUMBER_SNIPPET.finditer(text[:8000]):
            snippet = m.group(0).strip()
            if snippet and snippet not in numbers and not re.fullmatch(r"[\d年月日\s.-]+", snippet):
                numbers.append(snippet)
            if len(numbers) >= 5:
                break
        if numbers:
            entry["key_numbers"] = numbers
        contact = _first(_CONTACT, text)
        if contact:
            entry["contact"] = contact
        entries.append(entry)

    for t in extract_talents(text, title):
        entries.append(
            {
                "id": talent_id(t.name, t.affiliation),
                "library": "talent",
                "name": t.name,
                "title": t.title,
                "affiliation": t.affiliation,
                "domains": domains,
                "doc_ids": [doc_id],
            }
        )
    return entries


def route_article(article: Article, classification: Any = None) -> list[dict[str, Any]]:
    """Set ``article.libraries`` and ``article.entries`` from its classification fields."""
    cls = classification if classification is not None else article
    entries = route(article, cls)
    article.entries = entries
    article.libraries = [lib for lib in LIBRARIES if any(e["library"] == lib for e in entries)]
    return entries


class RoutePipeline:
    """Fills ``libraries`` and ``entries`` from the classification the classify stage left on the article."""

    def process_item(self, item: Any) -> Any:
        if isinstance(item, Article):
            route_article(item)
        return item
