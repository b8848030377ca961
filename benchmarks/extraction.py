"""Extraction benchmark: techscout's extractor beside trafilatura, readability-lxml and GNE, in one run.

    python benchmarks/extraction.py [--corpus DIR] [--only zh|web] [--limit N]

zh-extraction: character 4-gram shingle precision/recall/F1 of whitespace-stripped body text per document,
averaged; date accuracy = the gold date equals the extracted one at the gold's precision (day, or month/year
when the gold gives only those); ``UNKNOWN`` gold skipped. A cross-check row scores each half of the pages
(split by a hash of the page id) separately.

web-extraction: trafilatura's rule — a document's ``with`` segments found in the output are true positives,
``without`` segments found are false positives, ``with`` segments missing are false negatives (summed over
documents); plus title/date/author accuracy where the gold has them.

Every system gets the same correctly decoded input (``pipelines.decode.decode_html``); trafilatura is also
given the raw bytes. techscout's extractor is timed from raw bytes (its decoding included). Throughput is
documents per CPU second of this process (``time.process_time``), so that other work on the machine does
not skew the comparison; each system first extracts three pages untimed (imports, caches).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pipelines.extract import extract_bytes  # noqa: E402
from pipelines.extract.decode import decode_html  # noqa: E402

CORPUS = Path(os.environ.get("TECHSCOUT_CORPUS", ROOT.parent / "shared" / "corpus"))


@dataclass
class Out:
    text: str = ""
    title: str = ""
    date: str = ""
    author: str = ""


@dataclass
class Score:
    name: str
    p: list[float] = field(default_factory=list)
    r: list[float] = field(default_factory=list)
    f: list[float] = field(default_factory=list)
    halves: dict[int, list[float]] = field(default_factory=lambda: {0: [], 1: []})
    date_ok: int = 0
    date_n: int = 0
    date_halves: dict[int, list[int]] = field(default_factory=lambda: {0: [0, 0], 1: [0, 0]})
    title_ok: int = 0
    title_n: int = 0
    author_ok: int = 0
    author_n: int = 0
    tp: int = 0
    fp: int = 0
    fn: int = 0
    seconds: float = 0.0
    docs: int = 0
    has_date: bool = True


# ---------------------------------------------------------------------------------------------------------------
# systems
# ---------------------------------------------------------------------------------------------------------------
def ours(raw: bytes, decoded: str) -> Out:
    ext = extract_bytes(raw)
    return Out(ext.text, ext.title, ext.published or "", ext.author)


def _traf(data: Any) -> Out:
    import trafilatura

    doc: Any = trafilatura.bare_extraction(data, with_metadata=True)
    if doc is None:
        return Out()
    return Out(str(doc.text or ""), str(doc.title or ""), str(doc.date or ""), str(doc.author or ""))


def traf_raw(raw: bytes, decoded: str) -> Out:
    return _traf(raw)


def traf_decoded(raw: bytes, decoded: str) -> Out:
    return _traf(decoded)


def readability(raw: bytes, decoded: str) -> Out:
    from lxml import html as lxml_html
    from readability import Document

    doc = Document(decoded)
    summary = doc.summary(html_partial=True)
    try:
        text = lxml_html.fromstring(summary).text_content() if summary.strip() else ""
    except Exception:
        text = ""
    return Out(text, doc.short_title() or "", "", "")


def gne(raw: bytes, decoded: str) -> Out:
    from gne import GeneralNewsExtractor

    try:
        res = GeneralNewsExtractor().extract(decoded)
    except Exception:
        return Out()
    return Out(str(res.get("content") or ""), str(res.get("title") or ""), str(res.get("publish_time") or ""),
               str(res.get("author") or ""))  # fmt: skip


SYSTEMS: list[tuple[str, Callable[[bytes, str], Out], bool]] = [
    ("techscout", ours, True),
    ("trafilatura (raw bytes)", traf_raw, True),
    ("trafilatura (decoded)", traf_decoded, True),
    ("readability-lxml", readability, False),
    ("GNE", gne, True),
]


# ---------------------------------------------------------------------------------------------------------------
# scoring
# ---------------------------------------------------------------------------------------------------------------
_WS = re.compile(r"\s+")


def shingles(text: str, n: int = 4) -> set[str]:
    t = _WS.sub("", text)
    if len(t) < n:
        return {t} if t else set()
    return {t[i : i + n] for i in range(len(t) - n + 1)}


def prf(pred: str, gold: str) -> tuple[float, float, float]:
    sp, sg = shingles(pred), shingles(gold)
    if not sp or not sg:
        return 0.0, 0.0, 0.0
    inter = len(sp & sg)
    p, r = inter / len(sp), inter / len(sg)
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


_DATE = re.compile(r"(\d{4})(?:[-/.年](\d{1,2})(?:[-/.月](\d{1,2}))?)?")


def date_parts(value: str) -> tuple[int, ...]:
    m = _DATE.search(value or "")
    if not m:
        return ()
    return tuple(int(x) for x in m.groups() if x)


def date_match(pred: str, gold: str) -> bool:
    g = date_parts(gold)
    p = date_parts(pred)
    return bool(g) and p[: len(g)] == g


def gold_date_usable(gold: str) -> bool:
    return bool(gold) and gold.strip() != "UNKNOWN" and bool(date_parts(gold))


def _norm(s: Any) -> str:
    if isinstance(s, list):
        s = "; ".join(str(x) for x in s)
    return _WS.sub(" ", str(s or "")).strip().casefold()


def half_of(key: str) -> int:
    return hashlib.md5(key.encode()).digest()[0] % 2


# ---------------------------------------------------------------------------------------------------------------
# runs
# ---------------------------------------------------------------------------------------------------------------
def _load(
    folder: Path, limit: int | None
) -> tuple[dict[str, Any], list[tuple[str, dict[str, Any], bytes, str]]]:
    gold = json.loads((folder / "gold.json").read_text(encoding="utf-8"))
    docs = []
    for key, item in list(gold.items())[:limit]:
        raw = (folder / item["file"]).read_bytes()
        docs.append((key, item, raw, decode_html(raw).text))
    return gold, docs


def run_zh(limit: int | None) -> list[Score]:
    _, docs = _load(CORPUS / "zh-extraction", limit)
    scores = []
    for name, fn, has_date in SYSTEMS:
        s = Score(name, has_date=has_date)
        for _key, _item, raw, decoded in docs[:3]:  # warm-up: imports and caches are not timed
            fn(raw, decoded)
        for key, item, raw, decoded in docs:
            t0 = time.process_time()
            out = fn(raw, decoded)
            s.seconds += time.process_time() - t0
            s.docs += 1
            p, r, f = prf(out.text, item["body"])
            s.p.append(p)
            s.r.append(r)
            s.f.append(f)
            s.halves[half_of(key)].append(f)
            if gold_date_usable(item.get("date", "")):
                ok = date_match(out.date, item["date"])
                s.date_n += 1
                s.date_ok += ok
                s.date_halves[half_of(key)][0] += ok
                s.date_halves[half_of(key)][1] += 1
        scores.append(s)
    return scores


def run_web(limit: int | None) -> list[Score]:
    _, docs = _load(CORPUS / "web-extraction", limit)
    scores = []
    for name, fn, has_date in SYSTEMS:
        s = Score(name, has_date=has_date)
        for _key, _item, raw, decoded in docs[:3]:  # warm-up: imports and caches are not timed
            fn(raw, decoded)
        for key, item, raw, decoded in docs:
            t0 = time.process_time()
            out = fn(raw, decoded)
            s.seconds += time.process_time() - t0
            s.docs += 1
            text = _WS.sub(" ", out.text)
            for seg in item.get("with", []):
                if _WS.sub(" ", seg).strip() in text:
                    s.tp += 1
                else:
                    s.fn += 1
            for seg in item.get("without", []):
                if _WS.sub(" ", seg).strip() in text:
                    s.fp += 1
            if item.get("title"):
                s.title_n += 1
                s.title_ok += _norm(out.title) == _norm(item["title"])
            if item.get("date") and gold_date_usable(str(item["date"])):
                s.date_n += 1
                s.date_ok += date_match(out.date, str(item["date"]))
            if item.get("author"):
                s.author_n += 1
                ga, pa = _norm(item["author"]), _norm(out.author)
                s.author_ok += bool(pa) and (pa == ga or pa in ga or ga in pa)
            half = half_of(key)
            s.halves[half].append(1.0)
        scores.append(s)
    return scores


def _mean(xs: list[float]) -> float:
    return sum(xs) / len(xs) if xs else 0.0


def print_zh(scores: list[Score]) -> None:
    base = max(scores[1:], key=lambda s: _mean(s.f))
    base_date = max((s for s in scores[1:] if s.has_date), key=lambda s: s.date_ok / max(1, s.date_n))
    traf = scores[1]
    print(
        f"\nzh-extraction ({scores[0].docs} pages; best anchor body F1: {base.name}; best anchor date: {base_date.name})"
    )
    head = f"{'system':<26}{'P':>7}{'R':>7}{'F1':>7}{'F1 h0':>7}{'F1 h1':>7}{'date':>8}{'d h0':>6}{'d h1':>6}{'docs/s':>9}{'F1/best':>9}{'speed/traf':>11}"
    print(head)
    print("-" * len(head))
    for s in scores:
        date = f"{s.date_ok / s.date_n:.3f}" if s.has_date and s.date_n else "   -"
        dh = [
            f"{ok / n:.2f}" if s.has_date and n else "  -" for ok, n in (s.date_halves[0], s.date_halves[1])
        ]
        dps = s.docs / s.seconds if s.seconds else 0.0
        tdps = traf.docs / traf.seconds if traf.seconds else 1.0
        print(
            f"{s.name:<26}{_mean(s.p):7.3f}{_mean(s.r):7.3f}{_mean(s.f):7.3f}{_mean(s.halves[0]):7.3f}"
            f"{_mean(s.halves[1]):7.3f}{date:>8}{dh[0]:>6}{dh[1]:>6}{dps:9.1f}{_mean(s.f) / max(1e-9, _mean(base.f)):9.3f}{dps / tdps:11.2f}"
        )
    print(
        f"(date over {scores[0].date_n} pages with a gold date; h0/h1 = the two halves of the pages by id hash)"
    )


def print_web(scores: list[Score]) -> None:
    traf = scores[1]
    print(f"\nweb-extraction ({scores[0].docs} pages; trafilatura's rule, segments summed over documents)")
    head = f"{'system':<26}{'P':>7}{'R':>7}{'F1':>7}{'title':>8}{'date':>8}{'author':>8}{'docs/s':>9}{'F1/traf':>9}{'speed/traf':>11}"
    print(head)
    print("-" * len(head))
    tf1 = 0.0
    rows = []
    for s in scores:
        p = s.tp / (s.tp + s.fp) if s.tp + s.fp else 0.0
        r = s.tp / (s.tp + s.fn) if s.tp + s.fn else 0.0
        f1 = 2 * p * r / (p + r) if p + r else 0.0
        rows.append((s, p, r, f1))
        if s is traf:
            tf1 = f1
    tdps = traf.docs / traf.seconds if traf.seconds else 1.0
    for s, p, r, f1 in rows:
        dps = s.docs / s.seconds if s.seconds else 0.0
        date = f"{s.date_ok / s.date_n:.3f}" if s.has_date and s.date_n else "   -"
        title = f"{s.title_ok / s.title_n:.3f}" if s.title_n else "   -"
        author = f"{s.author_ok / s.author_n:.3f}" if s.author_n else "   -"
        print(
            f"{s.name:<26}{p:7.3f}{r:7.3f}{f1:7.3f}{title:>8}{date:>8}{author:>8}{dps:9.1f}{f1 / max(tf1, 1e-9):9.3f}{dps / tdps:11.2f}"
        )
    print(
        f"(title over {scores[0].title_n}, date over {scores[0].date_n}, author over {scores[0].author_n} pages with gold)"
    )


def main(argv: list[str] | None = None) -> int:
    global CORPUS
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--corpus", type=Path, default=CORPUS)
    ap.add_argument("--only", choices=("zh", "web"))
    ap.add_argument("--limit", type=int, help="first N pages of each set (quick look)")
    args = ap.parse_args(argv)
    CORPUS = args.corpus
    warnings.filterwarnings("ignore")
    import logging

    logging.disable(logging.CRITICAL)
    if args.only in (None, "zh"):
        print_zh(run_zh(args.limit))
    if args.only in (None, "web"):
        print_web(run_web(args.limit))
    return 0


if __name__ == "__main__":
    sys.exit(main())
