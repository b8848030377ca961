"""Classification benchmark: techscout's classifier against a majority-class and a TF-IDF + logistic regression
baseline, on the hand-labelled documents, TNEWS headlines (relevance) and CSLDCP abstracts (top domain).

    .venv/bin/python benchmarks/classify.py            # the table
    .venv/bin/python benchmarks/classify.py --build-model pipelines/data/classify_model.json.gz

The learned part of the classifier is trained on the train splits only; scores are on the dev splits and on the
hand labels (with a cross-validated figure for the labels, where the rule thresholds were tuned).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CORPUS = Path(os.environ.get("TECHSCOUT_CORPUS", ROOT.parent / "shared" / "corpus"))


def _page_text(path: Path) -> tuple[str, str]:
    """Title and body text of a raw HTML page (the product's extractor when present, else trafilatura)."""
    from pipelines.decode import decode_html

    html = decode_html(path.read_bytes()).text
    try:
        from pipelines.extract import extract_article  # type: ignore[attr-defined]

        art = extract_article(html, url="")
        title = str(getattr(art, "title", "") or "")
        text = str(getattr(art, "text", "") or "")
        if text:
            return title, text
    except Exception:  # noqa: BLE001 - the extractor may not exist or may differ; fall back
        pass
    import trafilatura

    text = trafilatura.extract(html, include_comments=False, favor_recall=True) or ""
    meta = trafilatura.extract_metadata(html)
    return (meta.title if meta and meta.title else ""), text


def load_labels(corpus: Path = CORPUS) -> list[dict[str, Any]]:
    """The hand-labelled documents with their title and text filled in."""
    rows = [json.loads(line) for line in (corpus / "labels" / "labels.jsonl").open(encoding="utf-8")]
    gold_cache: dict[str, Any] = {}
    for row in rows:
        path = row.get("path") or ""
        text = row.get("text") or ""
        title = row.get("title") or ""
        if path and not text:
            if "#" in path:
                fname, _, key = path.partition("#")
                if fname not in gold_cache:
                    gold_cache[fname] = json.loads((corpus / fname).read_text(encoding="utf-8"))
                text = gold_cache[fname][key]["body"]
            elif path.endswith(".html"):
                ptitle, text = _page_text(corpus / path)
                title = title or ptitle
            else:
                text = (corpus / path).read_text(encoding="utf-8")
        row["title"] = title
        row["text"] = text
        row.setdefault("url", "")
    return rows


def _jsonl(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                yield json.loads(line)


def training_examples(corpus: Path = CORPUS) -> list[dict[str, Any]]:
    """Examples for the learned layer from the public train splits only (never the dev splits)."""
    rel_map = json.loads((corpus / "classify" / "tnews" / "relevance_map.json").read_text(encoding="utf-8"))["map"]
    dom_map = json.loads((corpus / "classify" / "csldcp" / "domain_map.json").read_text(encoding="utf-8"))["map"]
    out: list[dict[str, Any]] = []
    for row in _jsonl(corpus / "classify" / "tnews" / "train.jsonl"):
        rel = rel_map.get(row["label_desc"])
        if rel is not None:
            out.append({"title": row["sentence"], "text": "", "scitech_relevant": bool(rel)})
    for row in _jsonl(corpus / "classify" / "csldcp" / "train.jsonl"):
        dom = dom_map.get(row["label"], "?")
        ex: dict[str, Any] = {"title": "", "text": row["content"], "scitech_relevant": dom is not None}
        if dom and dom != "?":
            ex["domains"] = [dom]
        out.append(ex)
    return out
