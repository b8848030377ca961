"""Chinese page boilerplate: lines that surround an article but are not part of it.

Editor and source credits (责编/编辑/来源), sharing and printing widgets (分享到/扫一扫/打印/关闭窗口), copyright
and licence notices (版权所有/备案号), navigation (上一篇/下一篇/返回顶部), counters (浏览次数) and reprint
disclaimers. Patterns match simplified and traditional script.
"""

from __future__ import annotations

import re

from pipelines.zhre import zh

# whole short lines that are page furniture
_FURNITURE = re.compile(
    zh(
        r"^[\s【\[（(<《]*(?:"
        r"责\s*任?\s*编\s*辑?|编\s*辑|校\s*对|审\s*核|审\s*校|审\s*稿|监\s*制|值班编辑|实习编辑|签\s*发|终\s*审|初\s*审|"
        r"来\s*源|稿\s*源|作\s*者|摄\s*影|图\s*片|通讯员|出\s*处|发布者|供稿|录入|点击数|点击量|浏览次数|浏览量|阅读量|阅读数|"
        r"访问次数|访问量|字号|字体|文章来源|信息来源|本文来源|原文链接|原标题|标签|关键词|相关热词|热词|Tags?"
        r")\s*[:：]"
    ),
    re.I,
)
WIDGETS = re.compile(
    zh(
        r"(?:分享到|分享至|分享让更多人看到|一键分享|扫一扫|微信扫|扫描二维码|二维码|打印本页|打印此文|【打印】|\[打印\]|"
        r"打印文章|关闭窗口|【关闭】|\[关闭\]|关闭本页|返回顶部|回到顶部|返回首页|返回列表|上一篇|下一篇|上一条|下一条|"
        r"【字号|字号[:：]?\s*[大中小]|【大\s*中\s*小】|我要纠错|纠错|收藏本页|加入收藏|设为首页|网站地图|联系我们|"
        r"关于我们|免责声明|隐私政策|用户协议|意见反馈|相关新闻|相关阅读|相关文章|相关链接|延伸阅读|推荐阅读|热点推荐|"
        r"猜你喜欢|热门推荐|责任编辑|点赞|评论\s*\d|登录|注册|下载客户端|APP下载|客户端下载|关注我们|微信公众号|"
        r"第一时间为您推送|传播正能量|报道全球|举报|更多>>|更多\s*>|查看更多|阅读原文|展开全文|点击查看|点击进入)"
    ),
    re.I,
)
_LEGAL = re.compile(
    zh(
        r"(?:版权所有|版权声明|版权归.{0,8}所有|保留所有权利|All\s+Rights\s+Reserved|Copyright|©|\(c\)\s*\d{4}|ICP备|ICP证|"
        r"公网安备|网安备|备案号|经营许可证|违法和不良信息|互联网新闻信息服务许可|未经.{0,12}授权.{0,12}不得|"
        r"转载.{0,20}(?:注明|请联系|须经)|仅代表作者(?:个人)?观点|不代表本(?:网|站)|如涉及作品内容|"
        r"本网所有文字|依法追究|举报电话)"
    ),
    re.I,
)
_EDITION = re.compile(
    zh(r"^[（(]?\s*《?\s*[^》]{2,10}\s*》?\s*[（(]\s*\d{4}年\d{1,2}月\d{1,2}日\s*\d*\s*版\s*[）)]\s*[）)]?$")
)


def is_boilerplate(line: str, *, edge: bool = False) -> bool:
    """Whether one line of text is page furniture rather than article content.

    ``edge`` marks a line at the start or end of the body, where credits and widgets sit: there, longer
    lines are tested too.
    """
    text = line.strip()
    if not text:
        return True
    n = len(text)
    if n <= 60 and _FURNITURE.match(text):
        return True
    limit = 60 if edge else 30
    sentence = n > 20 and text[-1] in "。！？!?"
    if n <= limit and not sentence and WIDGETS.search(text):
        return True
    if n <= (220 if edge else 120) and _LEGAL.search(text):
        return True
    return bool(_EDITION.match(text))


def strip_boilerplate(lines: list[str]) -> tuple[list[str], int]:
    """Remove boilerplate lines; lines within three of either end are judged as edge lines.

    Returns the kept lines and how many were removed.
    """
    kept: list[str] = []
    last = len(lines) - 1
    for i, line in enumerate(lines):
        edge = i < 3 or i > last - 3
        if not is_boilerplate(line, edge=edge):
            kept.append(line)
    return kept, len(lines) - len(kept)
