"""Injected SEO spam: gambling and porn phrases, "官网入口"-style casino brands, odd brand tokens.

Hacked or careless sites get phrases injected into otherwise legitimate articles ("推出星空体育官网入口网站服务",
a porn headline above the real one). :func:`clean_spam` removes each phrase and lists it; the article is
never dropped because of one. Detection is conservative: a phrase needs a gambling/porn brand structure
(brand + 体育/娱乐/棋牌 + 官网/入口/登录/注册...), two distinct porn terms in one segment, or a lucky-number
Latin brand token next to such words — plain 体育, 彩票, 5G, GB18030 or RTX4090 in sci-tech prose are not spam.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from core.items import Article
from pipelines.zhre import fast, zh

_BRANDS = (
    "星空|开云|半岛|乐鱼|九游|米乐|华体会|爱游戏|必威|亚博|博鱼|雷竞技|欧宝|沙巴|威廉希尔|皇冠|金沙|新葡京|葡京|"
    "威尼斯人|永利|银河|太阳城|凤凰|万博|明升|立博|伟德|365|188|大发|鸿运|澳门|新濠|美高梅|宝马|天博|世博|"
    "江南|b体育|KY|ky|OD|od|AG|ag|BB|bb|DB|PG|pg|MG|mg|JDB|FB|fb"
)
_GAMBLING_KIND = r"(?:体育|娱乐|棋牌|彩票|电竞|真人|博彩|赌场|游戏|平台|app|APP|娱乐城|国际|casino|bet)"
_ENTRY = (
    r"(?:官方网站|官网|官方|网页版|手机版|客户端|平台|首页|主页|app|APP|下载|入口|登录|登陆|注册|网址|网站|链接|地址|"
    r"在线|开户|注册送|体验金|彩金)"
)
# brand + kind + at least one entry word: 星空体育官网入口网站, 开云体育app下载, 乐鱼平台登录入口
_GAMBLING = fast(
    zh(r"(?:" + _BRANDS + r")\s*" + _GAMBLING_KIND + r"\s*(?:" + _ENTRY + r"\s*){1,5}")
    + "|"
    + zh(
        r"[\u4e00-\u9fff]{2}\s*(?:体育|娱乐|棋牌|博彩|赌场|真人|电竞|娱乐城)\s*"
        r"(?:官方网站|官网|网页版|手机版|入口|登录|登陆|注册|开户)(?:\s*(?:" + _ENTRY + r")){0,4}"
    )
)
# a generic "XX官网入口"/"XX登录入口" without a gambling kind word
_ENTRY_WORDS = zh(r"(?:官网入口|登录入口|注册入口|网页版入口|官方入口|官网登录|手机版下载)")
_ENTRY_ONLY = re.compile(r"[\u4e00-\u9fffA-Za-z0-9]{2,6}" + _ENTRY_WORDS)
_ENTRY_HINT = fast(_ENTRY_WORDS)  # a text without these words has no such phrase (a quick test of the whole text)
_GAMBLING_WORDS = fast(
    zh(
        r"(?:百家乐|老虎机|真人荷官|六合彩|时时彩|北京赛车|赌场|博彩|网上赌|线上赌|赌博网站|体育投注|足球投注|下注|"
        r"彩金|注册送|开户送|首存|返水|洗码|电子游艺|捕鱼游戏|棋牌游戏|网投|外围)"
    )
)
_PORN_WORDS = re.compile(
    r"(?:无码|有码|日韩|亚洲综合|综合色|国产成人|成人影|成人视频|成人网站|三级片|色情|黄色网站|黄片|A片|AV|av|"
    r"一区二区|二区三区|精品视频|久久精品|免费看|偷拍|自拍|人妻|熟女|巨乳|美女裸|裸聊|约炮|欧美日韩|中文字幕|"
    r"午夜|福利视频|在线观看|高清无码|伦理片|激情|夜夜|天天干|丝袜|番号|麻豆)"
)
_LUCKY = r"(?:365|888|8888|168|188|666|777|999|0088|5566|2828|555|333|520|1314|88|99)"
_TOKEN = fast(
    r"(?<![A-Za-z0-9])([A-Za-z]{1,6}" + _LUCKY + r"(?:\.(?:com|net|vip|cc|top|me|co))?|"
    r"[A-Za-z0-9]{2,12}\.(?:vip|cc|top|bet|casino))(?![A-Za-z0-9])"
)
_TOKEN_CONTEXT = fast(
    zh(r"(?:体育|娱乐|棋牌|彩票|官网|入口|登录|注册|平台|网址|app|APP|下载|开户|真人|电竞|赌|博彩)")
)
_SEGMENT = re.compile(r"[_|｜]+")


@dataclass
class SpamResult:
    title: str
    text: str
    found: list[str] = field(default_factory=list)


def _porn_segments(line: str) -> list[str]:
    """Segments of a line (split at _ and |) that carry two distinct porn terms."""
    out: list[str] = []
    for seg in _SEGMENT.split(line):
        terms = {m.group(0).lower() for m in _PORN_WORDS.finditer(seg)}
        if len(terms) >= 2 or (
            terms and len(_SEGMENT.split(line)) > 2 and len(seg) < 30 and _line_porn_terms(line) >= 3
        ):
            out.append(seg.strip())
    return out


def _line_porn_terms(line: str) -> int:
    return len({m.group(0).lower() for m in _PORN_WORDS.finditer(line)})


def _free(m: re.Match[str], spans: list[tuple[int, int]]) -> bool:
    return all(m.end() <= a or m.start() >= b for a, b in spans)


def find_spam(text: str) -> list[str]:
    """The injected spam phrases of a text, in order of appearance, each once."""
    found: list[str] = []
    # each pattern is first looked for in the whole text (a match in a line is a match in the text): most texts
    # have none, and one scan of the text costs less than one per line
    gambling = _GAMBLING.search(text) is not None
    entry = _ENTRY_HINT.search(text) is not None
    token = _TOKEN.search(text) is not None
    porn = _PORN_WORDS.search(text) is not None
    gambling_words = _GAMBLING_WORDS.search(text) is not None
    if not (gambling or entry or token or porn or gambling_words):
        return found

    def add(phrase: str) -> None:
        phrase = phrase.strip()
        if phrase and phrase not in found:
            found.append(phrase)

    for line in text.split("\n"):
        if not line.strip():
            continue
        spans: list[tuple[int, int]] = []
        if gambling:
            for m in _GAMBLING.finditer(line):
                spans.append(m.span())
                add(m.group(0))
        if entry:
            for m in _ENTRY_ONLY.finditer(line):
                if _free(m, spans):
                    spans.append(m.span())
                    add(m.group(0))
        if token:
            for m in _TOKEN.finditer(line):
                around = line[max(0, m.start() - 6) : m.end() + 6]
                if _free(m, spans) and (_TOKEN_CONTEXT.search(around) or _GAMBLING_WORDS.search(around)):
                    spans.append(m.span())
                    add(m.group(0))
        if porn and _line_porn_terms(line) >= 2:
            for seg in _porn_segments(line):
                add(seg)
        if gambling_words and len(line) <= 80:
            gw = {g.group(0) for g in _GAMBLING_WORDS.finditer(line)}
            if len(gw) >= 2:
                add(line)
    return found


def _remove(text: str, phrases: list[str]) -> str:
    for phrase in sorted(phrases, key=len, reverse=True):
        text = text.replace(phrase, "")
    lines = []
    for line in text.split("\n"):
        stripped = line.strip(" _|｜-—\u3000")
        if line.strip() and not stripped:
            continue
        lines.append(line.strip(" _|｜") if line.strip() != stripped else line)
    text = "\n".join(lines)
    text = re.sub(r"\n{3,}", "\n\n", text)
    text = re.sub(
        r"[【\[]\s*[】\]]", "", text
    )  # brackets left empty by a removal: 【观鸟星空体育官网入口网站】
    return text.strip("\n")


def clean_spam(title: str, text: str) -> SpamResult:
    """Remove injected spam phrases from a title and a body; ``found`` lists each phrase removed."""
    found_title = find_spam(title) if title else []
    found_text = find_spam(text) if text else []
    found = list(dict.fromkeys(found_title + found_text))
    if not found:
        return SpamResult(title=title, text=text, found=[])
    new_title = _remove(title, found_title).strip() if found_title else title
    new_text = _remove(text, found_text) if found_text else text
    return SpamResult(title=new_title, text=new_text, found=found)


def clean_article_spam(article: Article) -> Article:
    result = clean_spam(article.title, article.text)
    if result.found:
        article.title = result.title
        article.text = result.text
        for phrase in result.found:
            if phrase not in article.spam:
                article.spam.append(phrase)
        if "spam-removed" not in article.repairs:
            article.repairs.append("spam-removed")
        if article.search_title or article.search_text:
            from pipelines.normalize import normalize_text

            article.search_title = normalize_text(article.title)
            article.search_text = normalize_text(article.text)
    return article


class SpamPipeline:
    """Removes injected spam phrases from the title and body and records them; never drops an article."""

    def process_item(self, item: Any) -> Any:
        if isinstance(item, Article):
            clean_article_spam(item)
        return item
