"""Duplicate-detection benchmark: techscout's DedupIndex beside datasketch's plain MinHashLSH, in one run.

    python benchmarks/dedup.py [--corpus DIR] [--sizes 10000,100000] [--variants 3] [--seed 7] [--digest]

Quality: real texts (zh-extraction gold bodies, web-zh pages' text extracted with trafilatura, CSLDCP
abstracts, the seeds) each get reprint variants made of random combinations of: traditional script (OpenCC
s2t), pinyin annotations after random characters, spam phrases, site chrome at head and tail (a few shared
site templates, so that different articles carry the same chrome), cut paragraphs or sentences, reordered
paragraphs, another headline. Hard negatives are the other originals: abstracts of one discipline, news on one
subject, the seeds' three articles on one meeting. The originals are split in two by a hash of their id:
``dev`` (the part the parameters were chosen on) and ``held-out``. Every document of a part is added to a fresh
index in a shuffled order; a predicted pair is two documents given the same cluster, a true pair two documents
made from one original. Precision, recall and F1 are over pairs.

The baseline gets the same dedup text (normalised, punctuation removed) and the same 5-character shingles,
128 permutations, threshold 0.5; a document joins the cluster of the earliest-inserted document its query
returns. SimHash rows (64-bit SimHash of the same shingles, exact brute-force search at two Hamming distances)
show the alternative to MinHash that was measured and not chosen.

Scale: N synthetic documents composed of corpus sentences (8–40 sentences each, published 500 a day in arrival
order) are added in arrival order by three systems, each in a forked child of its own, warmed up the same way
outside the window: datasketch's MinHashLSH one document at a time (the anchor); techscout's crawl path, what
DedupPipeline does for each article (``lookup()`` then ``add()``); techscout's batch path (``add_many()``, 512
at a time, the same results). docs/s is over the whole run (wall clock, and CPU time of the child: steadier on
a shared machine; the speed ratio is of the CPU rates, against the anchor of the same size) and over its last
10% (wall clock, at about N documents); memory is the peak RSS growth of the child (and, for techscout,
``memory_bytes()``). Texts are given already normalised, as the pipeline does (``search_text``). One core
(numpy threads = 1). The machine's load average is printed with every row.

``--digest`` prints digests of everything the index says on the labelled set and the scale sets instead: equal
digests before and after a change of the code mean the same duplicate links, cluster and story ids,
similarities and fingerprints.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import hashlib  # noqa: E402
import json  # noqa: E402
import random  # noqa: E402
import re  # noqa: E402
import resource  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from collections import defaultdict  # noqa: E402
from collections.abc import Callable, Iterable  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from datetime import date  # noqa: E402
from functools import lru_cache  # noqa: E402
from itertools import combinations  # noqa: E402
from multiprocessing import get_context  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from pipelines.dedup import SHINGLE, DedupIndex, dedup_text, fingerprint, warm  # noqa: E402
from pipelines.normalize import normalize_text  # noqa: E402

CORPUS = Path(os.environ.get("TECHSCOUT_CORPUS", ROOT.parent / "shared" / "corpus"))

SPAM = [
    "星空体育官网入口网站",
    "日韩无码视频免费看",
    "亚洲综合色一区二区三区",
    "澳门新葡京娱乐场官网",
    "开云体育app下载安装",
    "皇冠体育投注平台注册",
    "国产成人久久AV免费看",
    "九游会老哥俱乐部",
    "必威体育betway官网",
    "太阳城集团娱乐网址",
]
HEADLINES = [
    "重磅！{}",
    "{}（附全文）",
    "转载：{}",
    "【关注】{}",
    "{}——来自一线的报道",
    "刚刚，{}",
]
SITES = [
    (
        "首页\n新闻\n科技\n财经\n体育\n娱乐\n教育\n健康\n登录\n注册\n当前位置：首页 > 科技 > 正文\n",
        "\n责任编辑：王晓明\n分享到：微信 微博 QQ空间\n版权所有 © 2003-2023 科技信息网 All Rights Reserved\n"
        "本网站所刊载信息，不代表本站观点。如涉及作品内容、版权和其它问题，请在30日内与本网联系。\n备案号：京ICP备12345678号-1",
    ),
    (
        "网站首页\n政务公开\n政策文件\n工作动态\n通知公告\n互动交流\n无障碍浏览\n字号：大 中 小\n打印本页\n",
        "\n【打印本页】【关闭窗口】\n主办单位：某某市科学技术协会 承办单位：某某市科技信息中心\n"
        "地址：某某市人民路88号 邮编：100000 电话：010-12345678\n网站标识码：1100000001 京公网安备11010102000001号",
    ),
    (
        "关注我们\n扫码下载客户端\n热门推荐\n今日要闻\n",
        "\n以上文章仅代表作者个人观点，本网只是转载，如涉及作品内容、版权、稿酬问题，请及时联系我们。电话：029-63903870\n"
        "本网所有文字、图片和音视频等，版权均属本网所有，未经本网协议授权不得转载、链接或其他方式复制发表，违者本网将依法追究责任。",
    ),
    (
        "",
        "\n关注【科普中国】微信公众号，在对话框：\n回复【最新活动】，了解近期科普活动\n回复【科普课堂】，了解最新科普课堂\n"
        "听说，打赏我的人最后都找到了真爱。",
    ),
    (
        "人民网 >> 科技 >> 正文\n",
        "\n(责编：程宏毅、杨虞波罗)\n分享让更多人看到\n第一时间为您推送权威资讯\n报道全球 传播中国\n关注人民网，传播正能量",
    ),
]


@dataclass
class Doc:
    id: str
    group: str  # the original it was made from
    text: str
    title: str = ""


# ---------------------------------------------------------------------------------------------------- originals
def _part(doc_id: str) -> str:
    return "dev" if hashlib.sha1(doc_id.encode()).digest()[0] % 2 == 0 else "held-out"


def load_originals(corpus: Path, n_abstracts: int) -> list[Doc]:
    docs: list[Doc] = []
    gold = json.loads((corpus / "zh-extraction" / "gold.json").read_text(encoding="utf-8"))
    for key, entry in gold.items():
        body = str(entry.get("body") or "")
        if len(body) >= 150:
            docs.append(Doc(f"zhx-{key}", f"zhx-{key}", body))
    try:
        import trafilatura

        warnings.filterwarnings("ignore")
        for path in sorted((corpus / "web-zh").glob("*/*.html")):
            html = path.read_text(encoding="utf-8", errors="replace")
            text = trafilatura.extract(html) or ""
            if len(text) >= 150:
                key = f"wz-{path.parent.name}-{path.stem}"
                docs.append(Doc(key, key, text))
    except ImportError:
        pass
    by_label: dict[str, list[str]] = defaultdict(list)
    with open(corpus / "classify" / "csldcp" / "dev.jsonl", encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            by_label[row["label"]].append(row["content"])
    # whole disciplines, so that abstracts on one subject stand beside each other
    taken = 0
    for label in sorted(by_label, key=lambda lab: -len(by_label[lab])):
        for i, text in enumerate(by_label[label]):
            if len(text) >= 80:
                docs.append(Doc(f"csl-{label}-{i}", f"csl-{label}-{i}", text))
                taken += 1
        if taken >= n_abstracts:
            break
    for path in sorted((corpus / "seeds").glob("*.txt")):
        docs.append(Doc(f"seed-{path.stem[:3]}", f"seed-{path.stem[:3]}", path.read_text(encoding="utf-8")))
    # two pages of the corpus that give the same text are one original, not a hard negative
    seen: set[str] = set()
    unique = []
    for d in docs:
        fp = fingerprint(dedup_text(d.text))
        if fp not in seen:
            seen.add(fp)
            unique.append(d)
    return unique


# -------------------------------------------------------------------------------------------- transformations
_SENT = re.compile(r"(?<=[。！？；!?])")


def _paragraphs(text: str) -> list[str]:
    paras = [p for p in re.split(r"\n\s*\n|\n", text) if p.strip()]
    if len(paras) < 3:  # one-paragraph texts: work on sentences
        paras = [s for s in _SENT.split(text) if s.strip()]
    return paras


@lru_cache(maxsize=1)
def _s2t() -> Any:
    import opencc

    return opencc.OpenCC("s2t")


def t_traditional(text: str, rng: random.Random) -> str:
    return str(_s2t().convert(text))


def t_pinyin(text: str, rng: random.Random) -> str:
    from pypinyin import Style, lazy_pinyin

    tones = rng.random() < 0.5
    out = []
    for ch in text:
        out.append(ch)
        if "\u4e00" <= ch <= "\u9fff" and rng.random() < 0.06:
            py = lazy_pinyin(ch, style=Style.TONE if tones else Style.NORMAL)[0]
            out.append(f"({py})" + (" " if rng.random() < 0.5 else ""))
    return "".join(out)


def t_spam(text: str, rng: random.Random) -> str:
    chars = list(text)
    for _ in range(rng.randint(1, 5)):
        pos = rng.randrange(len(chars) + 1)
        chars[pos:pos] = list(rng.choice(SPAM))
    return "".join(chars)


def t_chrome(text: str, rng: random.Random) -> str:
    head, tail = rng.choice(SITES)
    return head + "\n" + text + "\n" + tail


def t_truncate(text: str, rng: random.Random) -> str:
    # a reprint cuts the article's paragraphs; the original site's navigation (short lines) is not carried over
    paras = [p for p in _paragraphs(text) if len(p.strip()) >= 30] or _paragraphs(text)
    if len(paras) < 2:
        return text
    keep = max(1, round(len(paras) * rng.uniform(0.6, 0.9)))
    if rng.random() < 0.7:
        paras = paras[:keep]  # the tail cut
    else:
        drop = set(rng.sample(range(len(paras)), len(paras) - keep))
        paras = [p for i, p in enumerate(paras) if i not in drop]
    return "\n\n".join(paras)


def t_reorder(text: str, rng: random.Random) -> str:
    paras = _paragraphs(text)
    if len(paras) < 3:
        return text
    for _ in range(max(1, len(paras) // 4)):
        i, j = rng.randrange(len(paras)), rng.randrange(len(paras))
        paras[i], paras[j] = paras[j], paras[i]
    return "\n\n".join(paras)


TRANSFORMS: dict[str, Callable[[str, random.Random], str]] = {
    "traditional": t_traditional,
    "pinyin": t_pinyin,
    "spam": t_spam,
    "chrome": t_chrome,
    "truncate": t_truncate,
    "reorder": t_reorder,
}


def variants(doc: Doc, n: int, rng: random.Random) -> list[tuple[Doc, list[str]]]:
    out = []
    names = list(TRANSFORMS)
    for v in range(n):
        chosen = [name for name in names if rng.random() < 0.4] or [rng.choice(names)]
        if v == 0 and "traditional" not in chosen and rng.random() < 0.5:  # the seeds' case, often
            chosen = ["traditional", "pinyin", "spam"]
        text = doc.text
        for name in ("truncate", "reorder", "spam", "chrome", "pinyin", "traditional"):
            if name in chosen:
                text = TRANSFORMS[name](text, rng)
        title = rng.choice(HEADLINES).format(doc.text.strip()[:16])
        out.append((Doc(f"{doc.id}~{v}", doc.group, text, title), chosen))
    return out


# ------------------------------------------------------------------------------------------------- evaluation
def pair_scores(groups: dict[str, str], clusters: dict[str, str]) -> tuple[float, float, float, int]:
    def pairs(labels: dict[str, str]) -> set[tuple[str, str]]:
        by: dict[str, list[str]] = defaultdict(list)
        for doc_id, label in labels.items():
            by[label].append(doc_id)
        out: set[tuple[str, str]] = set()
        for members in by.values():
            out.update(combinations(sorted(members), 2))
        return out

    truth, pred = pairs(groups), pairs(clusters)
    tp = len(truth & pred)
    p = tp / len(pred) if pred else 1.0
    r = tp / len(truth) if truth else 1.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return p, r, f, len(truth)


def run_techscout(docs: list[Doc]) -> dict[str, str]:
    index = DedupIndex()
    results = index.add_many({"id": d.id, "text": d.text, "title": d.title} for d in docs)
    return {d.id: r.cluster_id for d, r in zip(docs, results, strict=True)}


def _shingles(dtext: str) -> list[bytes]:
    k = min(SHINGLE, len(dtext)) or 1
    return list({dtext[i : i + k].encode("utf-8") for i in range(max(1, len(dtext) - k + 1))})


class Baseline:
    """datasketch MinHashLSH, threshold 0.5, 128 permutations, on the same dedup text and shingles; a document
    is looked up, then inserted. The permutations are drawn once (datasketch draws them for every new MinHash
    unless given them, which costs about 0.5 ms a document)."""

    def __init__(self) -> None:
        from datasketch import MinHash, MinHashLSH

        self._mh = MinHash
        template = MinHash(num_perm=128)
        self._perms, self._scheme = template.permutations, template.scheme
        self.lsh = MinHashLSH(threshold=0.5, num_perm=128)
        self.order: dict[str, int] = {}
        self.cluster: dict[str, str] = {}

    def add(self, doc_id: str, dtext: str) -> str:
        m = self._mh(num_perm=128, permutations=self._perms, scheme=self._scheme)
        m.update_batch(_shingles(dtext))
        found = self.lsh.query(m)
        cluster = doc_id
        if found:
            first = min(found, key=lambda k: self.order[k])
            cluster = self.cluster[first]
        self.lsh.insert(doc_id, m)
        self.order[doc_id] = len(self.order)
        self.cluster[doc_id] = cluster
        return cluster


def run_baseline(docs: list[Doc]) -> dict[str, str]:
    base = Baseline()
    return {d.id: base.add(d.id, dedup_text(d.text)) for d in docs}


def run_simhash(docs: list[Doc], max_distance: int) -> dict[str, str]:
    """SimHash (64 bits over the same shingles), brute-force search: the alternative to MinHash, measured."""
    from pipelines.dedup.minhash import gram_hashes

    bits = np.arange(64, dtype=np.uint64)
    codes = np.zeros(len(docs), dtype=np.uint64)
    for i, d in enumerate(docs):
        h = np.unique(gram_hashes(dedup_text(d.text), SHINGLE))
        ones = ((h[:, None] >> bits) & np.uint64(1)).sum(axis=0)
        codes[i] = np.uint64(int("".join("1" if c * 2 > len(h) else "0" for c in ones[::-1].tolist()), 2))
    clusters: dict[str, str] = {}
    for i, d in enumerate(docs):
        near = np.flatnonzero(np.bitwise_count(codes[:i] ^ codes[i]) <= max_distance)
        clusters[d.id] = clusters[docs[int(near[0])].id] if len(near) else d.id
    return clusters


# ------------------------------------------------------------------------------------------------------ scale
def sentence_pool(corpus: Path, originals: list[Doc]) -> list[str]:
    pool: list[str] = []
    for name in ("train.jsonl", "dev.jsonl"):
        with open(corpus / "classify" / "csldcp" / name, encoding="utf-8") as fh:
            for line in fh:
                pool.extend(
                    s for s in re.split(r"(?<=[。.；;])", json.loads(line)["content"]) if len(s) >= 12
                )
        with open(corpus / "classify" / "tnews" / name, encoding="utf-8") as fh:
            pool.extend(json.loads(line)["sentence"] + "。" for line in fh)
    for d in originals:
        pool.extend(s for s in _SENT.split(normalize_text(d.text)) if len(s) >= 12)
    return pool


def synthetic(pool: list[str], n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        k = rng.randint(8, 40)
        sents = rng.choices(pool, k=k)
        cut = sorted(rng.sample(range(1, k), min(3, k - 1)))
        paras = ["".join(sents[a:b]) for a, b in zip([0, *cut], [*cut, k], strict=True)]  # a few paragraphs
        out.append("\n\n".join(paras))
    return out


def publication_dates(n: int, per_day: int, seed: int) -> list[str | None]:
    """Publication dates of documents arriving in order, ``per_day`` a day, each published up to 2 days before
    it arrives; one in 20 undated. ``per_day`` 0: all undated."""
    if per_day <= 0:
        return [None] * n
    rng = random.Random(seed)
    start = date(2023, 1, 1).toordinal()
    return [
        None
        if rng.random() < 0.05
        else date.fromordinal(start + i // per_day - rng.randint(0, 2)).isoformat()
        for i in range(n)
    ]


def _rss_kb() -> int:
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


SYSTEMS = {
    "datasketch": "datasketch MinHashLSH, one by one",
    "crawl": "techscout, crawl path: lookup + add",
    "batch": "techscout, add_many (512)",
}


def _scale_docs(texts: list[str], dates: list[str | None], prefix: str) -> list[dict[str, Any]]:
    return [{"id": f"{prefix}{i}", "text": t, "published": d} for i, (t, d) in enumerate(zip(texts, dates, strict=True))]


def _run_system(system: str, docs: list[dict[str, Any]], index: Any, tail_from: int) -> float:
    """Add ``docs`` in arrival order the system's way; the wall-clock time at which the last 10% began."""
    t_tail = time.perf_counter()
    if system == "datasketch":
        for i, d in enumerate(docs):
            if i == tail_from:
                t_tail = time.perf_counter()
            index.add(d["id"], dedup_text(d["text"], normalized=True))
    elif system == "crawl":  # what DedupPipeline does with each article (its text already in search form)
        for i, d in enumerate(docs):
            if i == tail_from:
                t_tail = time.perf_counter()
            index.lookup(d["id"], d["text"], published=d["published"], normalized=True)
            index.add(d["id"], d["text"], published=d["published"], normalized=True)
    else:
        index.add_many(docs[:tail_from], normalized=True)
        t_tail = time.perf_counter()
        index.add_many(docs[tail_from:], normalized=True)
    return t_tail


def _new_index(system: str) -> Any:
    return Baseline() if system == "datasketch" else DedupIndex()


def _scale_child(system: str, texts: list[str], dates: list[str | None], conn: Any) -> None:
    # warm-up, the same for every system and outside the window: the system's modules, tables and compiled
    # code loaded, then a throwaway index fed the first 64 documents the system's way
    w0 = time.perf_counter()
    if system != "datasketch":
        warm()
    _run_system(system, _scale_docs(texts[:64], dates[:64], "w"), _new_index(system), 64)
    warmup = time.perf_counter() - w0
    base_rss = _rss_kb()
    n = len(texts)
    docs = _scale_docs(texts, dates, "d")
    tail_from = n - max(1, n // 10)
    load0 = os.getloadavg()[0]
    t0, c0 = time.perf_counter(), time.process_time()
    index = _new_index(system)
    t_tail = _run_system(system, docs, index, tail_from)
    t1, c1 = time.perf_counter(), time.process_time()
    conn.send(
        {
            "docs_s": n / (t1 - t0),
            "cpu_docs_s": n / (c1 - c0),
            "cpu_ms": (c1 - c0) / n * 1e3,
            "tail_docs_s": (n - tail_from) / (t1 - t_tail),
            "rss_bytes": (_rss_kb() - base_rss) * 1024,
            "model_bytes": 0 if system == "datasketch" else index.memory_bytes(),
            "warmup_s": warmup,
            "load": (load0 + os.getloadavg()[0]) / 2,
        }
    )
    conn.close()


def scale(system: str, texts: list[str], dates: list[str | None]) -> dict[str, float]:
    """One system's scale run, in a forked child (so that its memory is its own)."""
    ctx = get_context("fork")
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_scale_child, args=(system, texts, dates, child))
    proc.start()
    child.close()
    result: dict[str, float] = parent.recv()
    proc.join()
    return result


def digests(originals: list[Doc], args: argparse.Namespace) -> None:
    """Digests of everything the index says (duplicate links, exact flags, cluster and story ids,
    similarities, fingerprints) on the labelled set (add_many; lookup + add one by one; written to a file,
    reopened and continued) and on the scale sets: equal digests before and after a change of the code mean
    equal results."""
    import tempfile

    def digest(results: list[Any]) -> str:
        h = hashlib.sha256()
        for r in results:
            h.update(json.dumps([r.duplicate_of, r.exact, r.cluster_id, r.story_id, r.similarity, r.fingerprint]).encode())
        return h.hexdigest()[:16]

    def one_by_one(index: DedupIndex, docs: list[dict[str, Any]], normalized: bool) -> list[Any]:
        out = []
        for d in docs:
            kw = {"title": d.get("title", ""), "published": d.get("published"), "source": d.get("source", "")}
            index.lookup(d["id"], d["text"], normalized=normalized, **kw)
            out.append(index.add(d["id"], d["text"], normalized=normalized, **kw))
        return out

    rng = random.Random(7)
    docs: list[Doc] = []
    for doc in originals:
        docs.append(doc)
        docs.extend(v for v, _ in variants(doc, 3, rng))
    random.Random(8).shuffle(docs)
    qdocs = [
        {
            "id": d.id,
            "text": d.text,
            "title": d.title,
            "source": d.id.split("-")[0] + str(i % 7),
            "published": None if i % 5 == 0 else f"2024-0{1 + i % 9}-1{i % 10}",
        }
        for i, d in enumerate(docs)
    ]
    qdocs.append(dict(qdocs[3], text=qdocs[10]["text"]))  # a re-added id with another text
    qdocs.append(dict(qdocs[11], id="copy-11"))  # an exact copy
    rows = [["labelled set: input", hashlib.sha256(json.dumps(qdocs, ensure_ascii=False).encode()).hexdigest()[:16]]]
    rows.append(["labelled set: add_many", digest(DedupIndex().add_many(qdocs))])
    rows.append(["labelled set: lookup + add", digest(one_by_one(DedupIndex(), qdocs, False))])
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "d.sqlite"
        with DedupIndex.open(path) as index:
            first = index.add_many(qdocs[:1500])
        with DedupIndex.open(path) as index:
            results = first + one_by_one(index, qdocs[1500:], False)
            info = [index.info(d["id"]) for d in qdocs]
    rows.append(["labelled set: file, reopened", digest(results) + " " + hashlib.sha256(json.dumps(info).encode()).hexdigest()[:16]])
    sizes = [int(x) for x in args.sizes.split(",") if x.strip()]
    n_max = max(sizes + [args.digest_crawl])
    pool = sentence_pool(CORPUS, originals)
    sdocs = _scale_docs(synthetic(pool, n_max, args.seed), publication_dates(n_max, args.per_day, args.seed), "d")
    for n in sizes:
        rows.append([f"scale {n}: add_many", digest(DedupIndex().add_many(sdocs[:n], normalized=True))])
    if args.digest_crawl:
        n = args.digest_crawl
        rows.append([f"scale {n}: lookup + add", digest(one_by_one(DedupIndex(), sdocs[:n], True))])
    print(table(rows, ["set", "digest"]))


# ------------------------------------------------------------------------------------------------------- main
def table(rows: Iterable[list[str]], header: list[str]) -> str:
    rows = [header, *rows]
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def quality(originals: list[Doc], args: argparse.Namespace, rng: random.Random, t0: float) -> None:
    parts: dict[str, list[Doc]] = defaultdict(list)
    transform_of: dict[str, list[str]] = {}
    for doc in originals:
        part = _part(doc.id)
        parts[part].append(doc)
        for v, chosen in variants(doc, args.variants, rng):
            parts[part].append(v)
            transform_of[v.id] = chosen
    print(
        f"labelled set: {len(originals)} originals, {sum(len(p) for p in parts.values())} documents "
        f"({time.perf_counter() - t0:.1f}s to build)\n"
    )
    # every system warmed up before its clock starts: modules, tables and compiled code loaded
    warm()
    run_techscout(parts["dev"][:64])
    run_baseline(parts["dev"][:64])

    rows = []
    per_transform_rows = []
    for part in ("dev", "held-out"):
        docs = parts[part][:]
        random.Random(args.seed + 1).shuffle(docs)
        groups = {d.id: d.group for d in docs}
        systems: list[tuple[str, Callable[[list[Doc]], dict[str, str]]]] = [
            ("techscout DedupIndex", run_techscout),
            ("datasketch MinHashLSH", run_baseline),
            ("SimHash 64-bit, distance <= 6", lambda ds: run_simhash(ds, 6)),
            ("SimHash 64-bit, distance <= 14", lambda ds: run_simhash(ds, 14)),
        ]
        for name, runner in systems:
            t = time.perf_counter()
            clusters = runner(docs)
            dt = time.perf_counter() - t
            p, r, f, n_pairs = pair_scores(groups, clusters)
            rows.append(
                [
                    part,
                    name,
                    str(len(docs)),
                    str(n_pairs),
                    f"{p:.3f}",
                    f"{r:.3f}",
                    f"{f:.3f}",
                    f"{len(docs) / dt:.0f}",
                ]
            )
            if name.startswith("techscout"):
                # recall per transformation: variant clustered with its original
                hit: dict[str, list[int]] = defaultdict(lambda: [0, 0])
                for d in docs:
                    if d.id in transform_of:
                        ok = clusters[d.id] == clusters[d.group]
                        for t_name in transform_of[d.id]:
                            hit[t_name][0] += ok
                            hit[t_name][1] += 1
                per_transform_rows.append(
                    [part]
                    + [f"{hit[t][0] / hit[t][1]:.3f} ({hit[t][1]})" if hit[t][1] else "-" for t in TRANSFORMS]
                )
    print("Duplicate pairs (pairwise over clusters):")
    print(table(rows, ["part", "system", "docs", "true pairs", "precision", "recall", "F1", "docs/s"]))
    print("\ntechscout: share of variants clustered with their original, by transformation (variants):")
    print(table(per_transform_rows, ["part", *TRANSFORMS]))


def stories(originals: list[Doc]) -> None:
    """Story grouping: unrelated real news all dated one day must stay apart; the seeds' three articles on the
    2021-01-18 meeting must be one story."""
    news = [d for d in originals if d.id.startswith(("wz-", "zhx-"))]
    index = DedupIndex()
    story = {d.id: index.add(d.id, d.text, published="2024-05-01").story_id for d in news}
    sizes: dict[str, int] = defaultdict(int)
    for sid in story.values():
        sizes[sid] += 1
    merged = sum(n for n in sizes.values() if n > 1)
    seeds = {d.id: d for d in originals if d.id.startswith("seed-")}
    days = {"seed-000": "2021-01-19", "seed-001": "2021-01-18", "seed-002": "2021-01-19"}
    days |= {"seed-003": "2020-04-09", "seed-004": "2022-04-08"}
    index = DedupIndex()
    seed_story = {k: index.add(k, d.text, published=days.get(k)).story_id for k, d in sorted(seeds.items())}
    meeting = {seed_story[k] for k in ("seed-000", "seed-001", "seed-002") if k in seed_story}
    others = {seed_story[k] for k in ("seed-003", "seed-004") if k in seed_story}
    print("\nStories:")
    print(
        table(
            [
                [
                    f"{len(news)} unrelated news texts, all dated one day",
                    f"{merged} in stories of 2+ ({len(news) - len(sizes)} joined another)",
                ],
                [
                    "seeds: 3 articles on the 2021-01-18 meeting, 2 other events",
                    f"meeting stories: {len(meeting)}, shared with other events: {len(meeting & others)}",
                ],
            ],
            ["set", "result"],
        )
    )


MEMORY = """A crawl process's dedup stage, in fresh processes: warm-up (modules, read-only tables, compiled kernels),
the data directory's index opened (DOCS documents), 500 new documents looked up and added one by one, closed.
Three such processes run at once, as the scheduler runs three crawls. Anchor: every process builds its
read-only tables (the dictionary of story words from jieba's IDF table, the lower-case table) itself, as before
they were memory-mapped; techscout: the tables mapped from the files built once. RSS peak = VmHWM; private =
RssAnon; shared file pages = RssFile (counted in every process's RSS); PSS = proportional set size (shared
pages split between the processes mapping them), summed over the three: what they cost the machine. With
--memory-previous DIR, the same steps with an earlier checkout's code (warmed as its crawl runner did)."""


# one crawl process's dedup stage, run with ``python -c`` so that it imports the ``pipelines`` of the checkout it
# is given (argv: checkout, mode, index file): "built" = tables built in the process, "mapped" = memory-mapped,
# "previous" = a checkout from before warm() existed (warmed as its crawl runner did: one add())
MEMORY_CHILD = """
import json, os, shutil, sys, time
root, mode, path = sys.argv[1:4]
sys.path.insert(0, root)
def status():
    out = {}
    for line in open("/proc/self/status", encoding="ascii"):
        key, _, value = line.partition(":")
        if key in ("VmHWM", "VmRSS", "RssAnon", "RssFile"):
            out[key] = int(value.split()[0]) * 1024
    return out
import logging
logging.disable(logging.WARNING)
t0 = time.perf_counter()
if mode == "built":
    from pipelines import mapped
    from pipelines.dedup import cache
    mapped.cache_dir = cache.cache_dir = lambda: None
from pipelines.dedup import DedupIndex
texts = json.loads(open(path + ".new.json", encoding="utf-8").read())
if mode == "previous":
    DedupIndex().add("warm-up", texts[0][0], published=texts[0][1], normalized=True)
else:
    from pipelines.dedup import warm
    warm()
t1 = time.perf_counter()
copy = path + "." + str(os.getpid())
shutil.copy(path, copy)
index = DedupIndex.open(copy)
t2 = time.perf_counter()
for i, (text, day) in enumerate(texts):
    index.lookup("new%d" % i, text, published=day, normalized=True)
    index.add("new%d" % i, text, published=day, normalized=True)
index.close()
t3 = time.perf_counter()
for suffix in ("", "-wal", "-shm"):
    if os.path.exists(copy + suffix):
        os.unlink(copy + suffix)
print(json.dumps({"end": status(), "warm_s": t1 - t0, "open_s": t2 - t1, "docs_s": t3 - t2}), flush=True)
sys.stdin.readline()
"""


def memory(originals: list[Doc], args: argparse.Namespace) -> None:
    import subprocess
    import tempfile

    n = args.memory_docs
    pool = sentence_pool(CORPUS, originals)
    texts = synthetic(pool, n + 500, args.seed)
    dates = publication_dates(n + 500, args.per_day, args.seed)
    header = ["system", "RSS peak MB", "RSS MB", "private MB", "shared file MB", "PSS of 3 MB", "warm-up s", "open s",
              "500 docs s", "load"]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp) / "dedup.sqlite")
        with DedupIndex.open(path, flush_every=5000) as index:
            index.add_many(_scale_docs(texts[:n], dates[:n], "http://example.cn/news/"), normalized=True)
        Path(path + ".new.json").write_text(json.dumps(list(zip(texts[n:], dates[n:], strict=True))), encoding="utf-8")
        systems = [(str(ROOT), "built", "tables built in each process (anchor)"), (str(ROOT), "mapped", "tables memory-mapped")]
        if args.memory_previous:
            systems.insert(0, (str(args.memory_previous), "previous", f"previous version ({args.memory_previous})"))
        for root, mode, name in systems:
            procs = [
                subprocess.Popen(
                    [sys.executable, "-c", MEMORY_CHILD, root, mode, path],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    text=True,
                )
                for _ in range(3)
            ]
            reports = [json.loads(p.stdout.readline()) for p in procs if p.stdout is not None]
            pss = 0
            for p in procs:
                for line in Path(f"/proc/{p.pid}/smaps_rollup").read_text(encoding="ascii").splitlines():
                    if line.startswith("Pss:"):
                        pss += int(line.split()[1]) * 1024
            for p in procs:
                p.communicate("done\n")

            def mean(key: str, reports: list[dict[str, Any]] = reports) -> float:
                return sum(r["end"][key] for r in reports) / len(reports) / 2**20

            rows.append(
                [
                    name,
                    f"{mean('VmHWM'):.0f}",
                    f"{mean('VmRSS'):.0f}",
                    f"{mean('RssAnon'):.0f}",
                    f"{mean('RssFile'):.0f}",
                    f"{pss / 2**20:.0f}",
                    f"{sum(r['warm_s'] for r in reports) / 3:.2f}",
                    f"{sum(r['open_s'] for r in reports) / 3:.2f}",
                    f"{sum(r['docs_s'] for r in reports) / 3:.2f}",
                    f"{os.getloadavg()[0]:.1f}",
                ]
            )
            print("  ".join(rows[-1]), flush=True)
    print("\n" + MEMORY.replace("DOCS", f"{n:,}") + "\n")
    print(table(rows, header))


COMPARED = """What is compared: each system adds the same documents in arrival order, each document looked up
against all earlier ones and then inserted, on the same dedup text (normalised, punctuation removed) and the
same 5-character shingles, texts given in search form as the crawl gives them (search_text). The anchor is
datasketch's MinHashLSH (threshold 0.5, 128 permutations drawn once), one document at a time. techscout's
crawl path is what DedupPipeline does for each article (lookup(), then add() of the same document, prepared
once); its batch path is add_many() in batches of 512 (the `techscout dedup` command and rebuilds from the
store), with the same results. Every system is warmed up the same way outside the window (its modules, tables
and compiled code loaded, then a throwaway index fed the first 64 documents its way) and runs alone in a forked
child on one core. docs/s CPU = documents per second of the child's CPU time (steadier on a shared machine than
wall clock); the speed ratio is of those, against the anchor of the same size. RSS B/doc = the child's peak
resident growth per document; load = the machine's 1-minute load average during the row."""


def main(argv: list[str] | None = None) -> int:
    global CORPUS
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpus", type=Path, default=CORPUS)
    ap.add_argument("--sizes", default="10000,100000", help="comma-separated index sizes for the scale runs")
    ap.add_argument("--variants", type=int, default=3, help="reprint variants per original")
    ap.add_argument("--abstracts", type=int, default=600, help="CSLDCP abstracts (whole disciplines)")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--no-baseline-scale", action="store_true", help="skip the baseline's scale runs")
    ap.add_argument("--no-quality", action="store_true", help="only the scale runs")
    ap.add_argument(
        "--per-day", type=int, default=500, help="scale runs: documents published a day (0: all undated)"
    )
    ap.add_argument(
        "--digest",
        action="store_true",
        help="print digests of the results (labelled set, scale sets) instead of measuring, to compare code versions",
    )
    ap.add_argument(
        "--digest-crawl", type=int, default=30000, metavar="N", help="--digest: the crawl path over N scale documents"
    )
    ap.add_argument("--memory", action="store_true", help="only the memory of crawl processes' dedup stage")
    ap.add_argument("--memory-docs", type=int, default=20000, metavar="N", help="--memory: documents in the index")
    ap.add_argument(
        "--memory-previous", type=Path, metavar="DIR", help="--memory: also a checkout of an earlier version, as a row"
    )
    args = ap.parse_args(argv)
    CORPUS = args.corpus
    rng = random.Random(args.seed)

    t0 = time.perf_counter()
    print(f"machine: {os.cpu_count()} cores, load average {' '.join(f'{x:.1f}' for x in os.getloadavg())} at start")
    originals = load_originals(CORPUS, args.abstracts)
    if args.digest:
        digests(originals, args)
        return 0
    if args.memory:
        memory(originals, args)
        return 0
    if not args.no_quality:
        quality(originals, args, rng, t0)
        stories(originals)

    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    if sizes:
        pool = sentence_pool(CORPUS, originals)
        texts_all = synthetic(pool, max(sizes), args.seed)
        dates_all = publication_dates(max(sizes), args.per_day, args.seed)
        mean_len = float(np.mean([len(t) for t in texts_all[:2000]]))
        header = [
            "docs",
            "system",
            "docs/s",
            "docs/s CPU",
            "CPU ms/doc",
            "docs/s last 10%",
            "RSS B/doc",
            "memory_bytes()/doc",
            "speed ratio",
            "load",
        ]
        dated = f"{args.per_day} published a day, 5% undated" if args.per_day > 0 else "undated"
        print(f"\nScale (synthetic documents of corpus sentences, mean {mean_len:.0f} characters, {dated}).")
        print(COMPARED + "\n")
        print("  ".join(header), flush=True)
        srows = []
        warmups: list[str] = []
        systems = ["crawl", "batch"] if args.no_baseline_scale else ["datasketch", "crawl", "batch"]
        for n in sizes:
            texts, dates = texts_all[:n], dates_all[:n]
            base: dict[str, float] | None = None
            for system in systems:
                r = scale(system, texts, dates)
                if system == "datasketch":
                    base = r
                ratio = f"{r['cpu_docs_s'] / base['cpu_docs_s']:.2f}" if base else "-"
                srows.append(
                    [
                        str(n),
                        SYSTEMS[system],
                        f"{r['docs_s']:.0f}",
                        f"{r['cpu_docs_s']:.0f}",
                        f"{r['cpu_ms']:.3f}",
                        f"{r['tail_docs_s']:.0f}",
                        f"{r['rss_bytes'] / n:.0f}",
                        f"{r['model_bytes'] / n:.0f}" if r["model_bytes"] else "-",
                        "1.00 (anchor)" if system == "datasketch" else ratio,
                        f"{r['load']:.1f}",
                    ]
                )
                warmups.append(f"{system} {r['warmup_s']:.1f}s")
                print("  ".join(srows[-1]), flush=True)
        print()
        print(table(srows, header))
        print("warm-up outside the window (per child): " + ", ".join(warmups))
    print(f"\ntotal {time.perf_counter() - t0:.0f}s, load average {' '.join(f'{x:.1f}' for x in os.getloadavg())} at the end")
    return 0


if __name__ == "__main__":
    sys.exit(main())
