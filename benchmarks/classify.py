"""Classification benchmark: techscout's classifier and routing against a TF-IDF + logistic-regression anchor,
every row measured the same way in the same run.

    .venv/bin/python benchmarks/classify.py                  # the tables (about 10 minutes of one core)
    .venv/bin/python benchmarks/classify.py --folds 10       # more folds
    .venv/bin/python benchmarks/classify.py --build-model pipelines/data/classify_model.json.gz

**Labelled documents** (the product's real input): the hand labels of real pages (``../shared/corpus/labels``,
with the corrections in ``tests/fixtures/classify/label_corrections.jsonl``), the labelled examples of the tests
(``examples.jsonl``) and the dev set written for this (``dev.jsonl``: every kind in about equal numbers). They are
scored by k-fold cross-validation, grouped (a document and its variants stay in one fold) and stratified by
content type. Inside each fold everything learned from labelled documents is fitted on the other folds only:
the ``kind`` head (and through it the weights of every rule and cue), the region ranker and the domain selector.
The anchor — TF-IDF over character 1–3-grams + logistic regression, one model per measure — is trained on the
same folds. The text heads (headline, relevance, domain) learn from the public train splits only, never from a
labelled document.

**Public splits**: TNEWS headlines (relevance) and CSLDCP abstracts (top domain), trained on the train split and
scored on the dev split, techscout and the anchor alike.

Speed is CPU time of one core for the whole ``techscout classify`` record (normalisation, classification,
routing, talents), the model loaded before the clock starts.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CORPUS = Path(os.environ.get("TECHSCOUT_CORPUS", ROOT.parent / "shared" / "corpus"))
FIXTURES = ROOT / "tests" / "fixtures" / "classify"
KINDS = ("policy", "achievement", "demand", "talent", "event", "news", "other")


# ----------------------------------------------------------------------------------------------------------
# data
# ----------------------------------------------------------------------------------------------------------
def _jsonl(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                yield json.loads(line)


def _page_text(path: Path) -> tuple[str, str, dict[str, Any]]:
    """Title, body text and policy fields of a raw HTML page, through the product's extractor."""
    from pipelines.extract import extract_article
    from pipelines.extract.decode import decode_html

    ext = extract_article(decode_html(path.read_bytes()).text, url="")
    return ext.title, ext.text, dict(ext.fields)


def load_labels(corpus: Path = CORPUS) -> list[dict[str, Any]]:
    """The hand-labelled real documents with their title and text filled in and the corrections applied."""
    rows = list(_jsonl(corpus / "labels" / "labels.jsonl"))
    corrections = {r["id"]: r for r in _jsonl(FIXTURES / "label_corrections.jsonl")}
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
                ptitle, text, fields = _page_text(corpus / path)
                title = title or ptitle
                row["fields"] = fields
            else:
                text = (corpus / path).read_text(encoding="utf-8")
        row["title"] = title
        row["text"] = text
        row.setdefault("url", "")
        row.setdefault("fields", {})
        row["source"] = "labels"
        row["group"] = row["id"]
        fix = corrections.get(row["id"])
        if fix:
            row.update({k: v for k, v in fix.items() if k not in ("id", "reason")})
    return rows


def load_documents(corpus: Path = CORPUS) -> list[dict[str, Any]]:
    """Every labelled document: real pages (labels), the tests' examples and the dev set."""
    docs = load_labels(corpus)
    for name in ("examples", "dev"):
        for row in _jsonl(FIXTURES / f"{name}.jsonl"):
            row["source"] = name
            row.setdefault("group", row["id"])
            docs.append(row)
    return docs


def public_train(corpus: Path = CORPUS, splits: tuple[str, ...] = ("train",)) -> list[dict[str, Any]]:
    """Text examples for the text heads from the public splits named (TNEWS headlines, CSLDCP abstracts)."""
    rel_map = json.loads((corpus / "classify" / "tnews" / "relevance_map.json").read_text(encoding="utf-8"))[
        "map"
    ]
    dom_map = json.loads((corpus / "classify" / "csldcp" / "domain_map.json").read_text(encoding="utf-8"))[
        "map"
    ]
    out: list[dict[str, Any]] = []
    for split in splits:
        for row in _jsonl(corpus / "classify" / "tnews" / f"{split}.jsonl"):
            rel = rel_map.get(row["label_desc"])
            if rel is not None:
                out.append(
                    {
                        "title": row["sentence"],
                        "text": "",
                        "keywords": row["keywords"],
                        "scitech_relevant": bool(rel),
                    }
                )
        for row in _jsonl(corpus / "classify" / "csldcp" / f"{split}.jsonl"):
            dom = dom_map.get(row["label"], "?")
            ex: dict[str, Any] = {"title": "", "text": row["content"], "scitech_relevant": dom is not None}
            if dom and dom != "?":
                ex["domains"] = [dom]
            out.append(ex)
    return out


# ----------------------------------------------------------------------------------------------------------
# folds
# ----------------------------------------------------------------------------------------------------------
def folds_for(docs: list[dict[str, Any]], k: int, seed: int = 13) -> list[list[int]]:
    """k test folds: documents of one group together, each content type spread evenly over the folds."""
    groups: dict[str, list[int]] = defaultdict(list)
    for i, d in enumerate(docs):
        groups[str(d.get("group") or d["id"])].append(i)
    by_kind: dict[str, list[str]] = defaultdict(list)
    for g, members in groups.items():
        by_kind[docs[members[0]]["content_type"]].append(g)
    rng = random.Random(seed)
    folds: list[list[int]] = [[] for _ in range(k)]
    offset = 0
    for kind in sorted(by_kind):
        gs = sorted(by_kind[kind])
        rng.shuffle(gs)
        for j, g in enumerate(gs):
            folds[(j + offset) % k].extend(groups[g])
        offset += len(gs)
    return [sorted(f) for f in folds]


# ----------------------------------------------------------------------------------------------------------
# scores
# ----------------------------------------------------------------------------------------------------------
def f1(tp: int, fp: int, fn: int) -> float:
    return 2 * tp / (2 * tp + fp + fn) if tp else 0.0


def binary_f1(gold: list[bool], pred: list[bool]) -> float:
    tp = sum(1 for g, p in zip(gold, pred, strict=True) if g and p)
    fp = sum(1 for g, p in zip(gold, pred, strict=True) if p and not g)
    fn = sum(1 for g, p in zip(gold, pred, strict=True) if g and not p)
    return f1(tp, fp, fn)


def accuracy(gold: list[Any], pred: list[Any]) -> float:
    return sum(1 for g, p in zip(gold, pred, strict=True) if g == p) / len(gold) if gold else 0.0


def macro_f1(gold: list[str], pred: list[str]) -> float:
    labels = sorted(set(gold))
    return sum(binary_f1([g == lab for g in gold], [p == lab for p in pred]) for lab in labels) / len(labels)


def micro_f1_sets(gold: list[set[str]], pred: list[set[str]]) -> float:
    tp = sum(len(g & p) for g, p in zip(gold, pred, strict=True))
    fp = sum(len(p - g) for g, p in zip(gold, pred, strict=True))
    fn = sum(len(g - p) for g, p in zip(gold, pred, strict=True))
    return f1(tp, fp, fn)


def _name_key(name: str) -> str:
    from pipelines.normalize import to_simplified

    return to_simplified(name.strip())


def talent_scores(gold: list[list[dict[str, str]]], pred: list[list[dict[str, str]]]) -> dict[str, float]:
    """Name precision and recall over all documents (names compared in simplified script)."""
    tp = fp = fn = 0
    for g_list, p_list in zip(gold, pred, strict=True):
        g = {_name_key(t["name"]) for t in g_list}
        p = {_name_key(t["name"]) for t in p_list}
        tp += len(g & p)
        fp += len(p - g)
        fn += len(g - p)
    return {"precision": tp / (tp + fp) if tp + fp else 0.0, "recall": tp / (tp + fn) if tp + fn else 0.0}


def per_kind_table(gold: list[str], pred: list[str]) -> list[str]:
    lines = [f"{'kind':<12}{'n':>5}{'prec':>7}{'recall':>7}{'F1':>7}"]
    for k in KINDS:
        tp = sum(1 for g, p in zip(gold, pred, strict=True) if g == k and p == k)
        fp = sum(1 for g, p in zip(gold, pred, strict=True) if g != k and p == k)
        fn = sum(1 for g, p in zip(gold, pred, strict=True) if g == k and p != k)
        n = tp + fn
        prec = tp / (tp + fp) if tp + fp else 0.0
        rec = tp / n if n else 0.0
        lines.append(f"{k:<12}{n:>5}{prec:>7.3f}{rec:>7.3f}{f1(tp, fp, fn):>7.3f}")
    return lines


def confusion(gold: list[str], pred: list[str]) -> list[str]:
    c = Counter(zip(gold, pred, strict=True))
    head = "true\\pred".ljust(12) + "".join(k[:6].rjust(7) for k in KINDS)
    return [head] + [k.ljust(12) + "".join(str(c[(k, p)]).rjust(7) for p in KINDS) for k in KINDS]


# ----------------------------------------------------------------------------------------------------------
# the anchor: TF-IDF over character 1-3-grams + logistic regression
# ----------------------------------------------------------------------------------------------------------
def anchor_fit_predict(train_x: list[str], train_y: list[Any], test_x: list[str]) -> list[Any]:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    if len(set(train_y)) < 2:
        return [train_y[0]] * len(test_x)
    vec = TfidfVectorizer(
        analyzer="char", ngram_range=(1, 3), sublinear_tf=True, min_df=2, max_features=50000
    )
    a = vec.fit_transform(train_x)
    clf = LogisticRegression(C=10.0, max_iter=3000, class_weight="balanced").fit(a, train_y)
    return list(clf.predict(vec.transform(test_x)))


def anchor_text(doc: dict[str, Any]) -> str:
    from pipelines.classify import MAX_CHARS
    from pipelines.normalize import normalize_text

    return normalize_text(f"{doc.get('title') or ''}\n{str(doc.get('text') or '')[:MAX_CHARS]}")


def run_anchor(docs: list[dict[str, Any]], folds: list[list[int]]) -> list[dict[str, Any]]:
    """Out-of-fold anchor predictions of every measure (content type, relevance, domains, region)."""
    texts = [anchor_text(d) for d in docs]
    out: list[dict[str, Any]] = [{} for _ in docs]
    domains = sorted({x for d in docs for x in d["domains"]})
    for test in folds:
        held = set(test)
        train = [i for i in range(len(docs)) if i not in held]
        tx = [texts[i] for i in train]
        qx = [texts[i] for i in test]
        measures: dict[str, Callable[[dict[str, Any]], Any]] = {
            "content_type": lambda d: d["content_type"],
            "scitech_relevant": lambda d: bool(d["scitech_relevant"]),
            "region": lambda d: d["region"] or "none",
        }
        for key, get in measures.items():
            for i, p in zip(test, anchor_fit_predict(tx, [get(docs[j]) for j in train], qx), strict=True):
                out[i][key] = p
        for i in test:
            out[i]["domains"] = set()
        for dom in domains:
            pred = anchor_fit_predict(tx, [dom in docs[j]["domains"] for j in train], qx)
            for i, p in zip(test, pred, strict=True):
                if p:
                    out[i]["domains"].add(dom)
        for i in test:
            out[i]["region"] = None if out[i]["region"] == "none" else out[i]["region"]
    return out


def anchor_talents(docs: list[dict[str, Any]]) -> list[list[dict[str, str]]]:
    """The talent anchor: every person name jieba's part-of-speech tagger finds (``nr``), no training."""
    import logging

    import jieba
    import jieba.posseg

    jieba.setLogLevel(logging.WARNING)
    out = []
    for d in docs:
        names = {w for w, flag in jieba.posseg.cut(anchor_text(d)) if flag == "nr" and 2 <= len(w) <= 4}
        out.append([{"name": n} for n in sorted(names)])
    return out


# ----------------------------------------------------------------------------------------------------------
# techscout
# ----------------------------------------------------------------------------------------------------------
def text_model(splits: tuple[str, ...] = ("train",)) -> Any:
    """The text heads trained on the public splits named."""
    from pipelines.classify.train import train_model

    return train_model(
        public_train(CORPUS, splits), meta={"trained_from": f"TNEWS and CSLDCP {'+'.join(splits)}"}
    )


def run_techscout(
    docs: list[dict[str, Any]], folds: list[list[int]], base: Any, *, rules_only: bool = False
) -> list[dict[str, Any]]:
    """Out-of-fold techscout records: for each fold the document heads are fitted on the other folds."""
    from pipelines.classify import Model, classify_record
    from pipelines.classify.train import fit_document_heads, read_labelled
    from pipelines.taxonomy import load_taxonomy

    taxonomy = load_taxonomy()
    out: list[dict[str, Any]] = [{} for _ in docs]
    if rules_only:
        for i, d in enumerate(docs):
            out[i] = classify_record(d, taxonomy=taxonomy, model=False)
        return out
    rows = [read_labelled(d, base, taxonomy) for d in docs]
    for test in folds:
        held = set(test)
        model = Model(dict(base.heads), dict(base.meta), dict(base.scorers))
        fit_document_heads(model, [rows[i] for i in range(len(docs)) if i not in held])
        for i in test:
            out[i] = classify_record(docs[i], taxonomy=taxonomy, model=model)
    return out


def speed(docs: list[dict[str, Any]], model: Any) -> float:
    """Documents per CPU second for ``classify_record`` (model loaded, one warm-up document first)."""
    from pipelines.classify import classify_record
    from pipelines.taxonomy import load_taxonomy

    taxonomy = load_taxonomy()
    classify_record(docs[0], taxonomy=taxonomy, model=model)
    start = time.process_time()
    for d in docs:
        classify_record(d, taxonomy=taxonomy, model=model)
    spent = time.process_time() - start
    return len(docs) / spent if spent else float("inf")


# ----------------------------------------------------------------------------------------------------------
# the tables
# ----------------------------------------------------------------------------------------------------------
def measures(gold_docs: list[dict[str, Any]], pred: list[dict[str, Any]]) -> dict[str, float]:
    g_type = [d["content_type"] for d in gold_docs]
    p_type = [p["content_type"] for p in pred]
    return {
        "content type accuracy": accuracy(g_type, p_type),
        "content type macro-F1": macro_f1(g_type, p_type),
        "relevance F1": binary_f1(
            [bool(d["scitech_relevant"]) for d in gold_docs], [bool(p["scitech_relevant"]) for p in pred]
        ),
        "domain micro-F1": micro_f1_sets(
            [set(d["domains"]) for d in gold_docs], [set(p["domains"]) for p in pred]
        ),
        "region accuracy": accuracy([d["region"] for d in gold_docs], [p["region"] for p in pred]),
    }


def _row(name: str, target: str, anchor: float | None, ours: float) -> str:
    a = f"{anchor:.3f}" if anchor is not None else "  -  "
    ratio = f"{ours / anchor:.2f}" if anchor else "  -"
    return f"{name:<44}{target:>8}{a:>9}{ours:>11.3f}{ratio:>7}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--build-model", metavar="FILE", help="train the shipped model and write FILE")
    parser.add_argument("--no-public", action="store_true", help="skip the TNEWS and CSLDCP tables")
    parser.add_argument("--rules", action="store_true", help="also score the rules alone (model=False)")
    args = parser.parse_args(argv)

    docs = load_documents()
    if args.build_model:
        from pipelines.classify.train import train_model

        base = text_model(("train", "dev"))
        model = train_model(
            docs, base=base, meta={"documents": "labels + examples + dev (tests/fixtures/classify)"}
        )
        model.save(args.build_model)
        print(json.dumps(model.meta, ensure_ascii=False))
        return 0

    t0 = time.process_time()
    base = text_model(("train",))
    t_text = time.process_time() - t0
    folds = folds_for(docs, args.folds)
    ours = run_techscout(docs, folds, base)
    anchor = run_anchor(docs, folds)
    rules = run_techscout(docs, folds, base, rules_only=True) if args.rules else None
    tal_anchor = anchor_talents(docs)

    print(
        f"Labelled documents: {len(docs)} ({', '.join(f'{k} {v}' for k, v in Counter(d['source'] for d in docs).items())}); "
        f"{args.folds}-fold cross-validation, grouped and stratified by content type"
    )
    print(f"content types: {dict(Counter(d['content_type'] for d in docs))}")
    print()
    header = f"{'measure':<44}{'goal':>8}{'anchor':>9}{'techscout':>11}{'ratio':>7}"
    goals = {
        "content type accuracy": ">=0.85",
        "relevance F1": ">=0.95",
        "domain micro-F1": ">=0.80",
        "region accuracy": ">=0.85",
    }
    for subset_name, keep in (
        ("all labelled documents", lambda d: True),
        ("real pages (corpus labels)", lambda d: d["source"] == "labels"),
        ("dev set + examples", lambda d: d["source"] != "labels"),
    ):
        idx = [i for i, d in enumerate(docs) if keep(d)]
        g = [docs[i] for i in idx]
        m_ours = measures(g, [ours[i] for i in idx])
        m_anchor = measures(g, [anchor[i] for i in idx])
        m_rules = measures(g, [rules[i] for i in idx]) if rules else None
        print(f"== {subset_name} ({len(idx)})")
        print(header + ("   rules" if rules else ""))
        for name, v in m_ours.items():
            line = _row(name, goals.get(name, ""), m_anchor[name], v)
            print(line + (f"{m_rules[name]:>8.3f}" if m_rules else ""))
        t = talent_scores([docs[i]["talents"] for i in idx], [ours[i]["talents"] for i in idx])
        ta = talent_scores([docs[i]["talents"] for i in idx], [tal_anchor[i] for i in idx])
        print(_row("talent precision (names)", ">=0.90", ta["precision"], t["precision"]))
        print(_row("talent recall (names)", ">=0.80", ta["recall"], t["recall"]))
        print()
    g_type = [d["content_type"] for d in docs]
    print("techscout per content type (all labelled documents)")
    print("\n".join(per_kind_table(g_type, [o["content_type"] for o in ours])))
    print("\n".join(confusion(g_type, [o["content_type"] for o in ours])))
    print()
    print("anchor per content type")
    print("\n".join(per_kind_table(g_type, [a["content_type"] for a in anchor])))
    print("\n".join(confusion(g_type, [a["content_type"] for a in anchor])))
    print()

    # --- public splits ----------------------------------------------------------------------------------------
    if not args.no_public:
        from pipelines.classify import Model, classify_record
        from pipelines.classify.train import fit_document_heads, read_labelled
        from pipelines.taxonomy import load_taxonomy

        taxonomy = load_taxonomy()
        full = Model(dict(base.heads), dict(base.meta), dict(base.scorers))
        fit_document_heads(full, [read_labelled(d, base, taxonomy) for d in docs])
        rel_map = json.loads(
            (CORPUS / "classify" / "tnews" / "relevance_map.json").read_text(encoding="utf-8")
        )["map"]
        tr = [
            r
            for r in _jsonl(CORPUS / "classify" / "tnews" / "train.jsonl")
            if rel_map.get(r["label_desc"]) is not None
        ]
        dv = [
            r
            for r in _jsonl(CORPUS / "classify" / "tnews" / "dev.jsonl")
            if rel_map.get(r["label_desc"]) is not None
        ]
        g = [bool(rel_map[r["label_desc"]]) for r in dv]
        pred = [
            bool(
                classify_record({"title": r["sentence"], "text": ""}, taxonomy=taxonomy, model=full)[
                    "scitech_relevant"
                ]
            )
            for r in dv
        ]
        a = anchor_fit_predict(
            [r["sentence"] for r in tr],
            [bool(rel_map[r["label_desc"]]) for r in tr],
            [r["sentence"] for r in dv],
        )
        print("== public dev splits (trained on the train splits)")
        print(header)
        print(
            _row(
                f"TNEWS dev: relevance F1 ({len(dv)} headlines)",
                ">=0.70",
                binary_f1(g, [bool(x) for x in a]),
                binary_f1(g, pred),
            )
        )
        dom_map = json.loads(
            (CORPUS / "classify" / "csldcp" / "domain_map.json").read_text(encoding="utf-8")
        )["map"]
        tr = [
            r
            for r in _jsonl(CORPUS / "classify" / "csldcp" / "train.jsonl")
            if dom_map.get(r["label"]) not in (None, "?")
        ]
        dv = [
            r
            for r in _jsonl(CORPUS / "classify" / "csldcp" / "dev.jsonl")
            if dom_map.get(r["label"]) not in (None, "?")
        ]
        g_top = [dom_map[r["label"]] for r in dv]
        p_top = [
            (
                classify_record({"title": "", "text": r["content"]}, taxonomy=taxonomy, model=full)["domains"]
                or [None]
            )[0]
            for r in dv
        ]
        a = anchor_fit_predict(
            [r["content"] for r in tr], [dom_map[r["label"]] for r in tr], [r["content"] for r in dv]
        )
        print(
            _row(
                f"CSLDCP dev: top-domain accuracy ({len(dv)})",
                ">=0.80",
                accuracy(g_top, a),
                accuracy(g_top, p_top),
            )
        )
        print()
        real = [d for d in docs if d["source"] == "labels"]
        print("speed (one core, CPU time, the whole classify record with routing and talents, model loaded):")
        for name, subset in (("real pages (corpus labels)", real), ("all labelled documents", docs)):
            mean = sum(len(str(d["text"])) for d in subset) / len(subset)
            print(f"  {name:<28} {speed(subset, full):>5.0f} docs/s  (mean {mean:.0f} characters)")
        print(f"training the text heads on the public train splits took {t_text:.0f} s of CPU")
    print(
        "anchor = TF-IDF (character 1-3-grams, simplified script) + logistic regression (balanced classes), one "
        "model per measure, trained on the same folds; talent anchor = jieba's person-name tags (nr), untrained; "
        "ratio = techscout / anchor."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
