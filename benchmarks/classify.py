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


def _page_text(path: Path) -> tuple[str, str, dict[str, Any]]:
    """Title, body text and policy fields of a raw HTML page, through the product's extractor."""
    from pipelines.extract import extract_article
    from pipelines.extract.decode import decode_html

    ext = extract_article(decode_html(path.read_bytes()).text, url="")
    return ext.title, ext.text, dict(ext.fields)


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
                ptitle, text, fields = _page_text(corpus / path)
                title = title or ptitle
                row["fields"] = fields
            else:
                text = (corpus / path).read_text(encoding="utf-8")
        row["title"] = title
        row["text"] = text
        row.setdefault("url", "")
        row.setdefault("fields", {})
    return rows


def _jsonl(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                yield json.loads(line)


def training_examples(corpus: Path = CORPUS) -> list[dict[str, Any]]:
    """Examples for the learned layer from the public train splits only (never the dev splits)."""
    rel_map = json.loads((corpus / "classify" / "tnews" / "relevance_map.json").read_text(encoding="utf-8"))[
        "map"
    ]
    dom_map = json.loads((corpus / "classify" / "csldcp" / "domain_map.json").read_text(encoding="utf-8"))[
        "map"
    ]
    out: list[dict[str, Any]] = []
    for row in _jsonl(corpus / "classify" / "tnews" / "train.jsonl"):
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
    for row in _jsonl(corpus / "classify" / "csldcp" / "train.jsonl"):
        dom = dom_map.get(row["label"], "?")
        ex: dict[str, Any] = {"title": "", "text": row["content"], "scitech_relevant": dom is not None}
        if dom and dom != "?":
            ex["domains"] = [dom]
        out.append(ex)
    return out


# ----------------------------------------------------------------------------------------------------------
# scoring helpers
# ----------------------------------------------------------------------------------------------------------
def f1(tp: int, fp: int, fn: int) -> float:
    return 2 * tp / (2 * tp + fp + fn) if tp else 0.0


def binary_f1(gold: list[bool], pred: list[bool]) -> float:
    tp = sum(1 for g, p in zip(gold, pred, strict=True) if g and p)
    fp = sum(1 for g, p in zip(gold, pred, strict=True) if p and not g)
    fn = sum(1 for g, p in zip(gold, pred, strict=True) if g and not p)
    return f1(tp, fp, fn)


def macro_f1(gold: list[str], pred: list[str]) -> float:
    labels = sorted(set(gold))
    scores = [binary_f1([g == lab for g in gold], [p == lab for p in pred]) for lab in labels]
    return sum(scores) / len(scores) if scores else 0.0


def accuracy(gold: list[Any], pred: list[Any]) -> float:
    return sum(1 for g, p in zip(gold, pred, strict=True) if g == p) / len(gold) if gold else 0.0


def micro_f1_sets(gold: list[set[str]], pred: list[set[str]]) -> float:
    tp = sum(len(g & p) for g, p in zip(gold, pred, strict=True))
    fp = sum(len(p - g) for g, p in zip(gold, pred, strict=True))
    fn = sum(len(g - p) for g, p in zip(gold, pred, strict=True))
    return f1(tp, fp, fn)


def _contains(a: str, b: str) -> bool:
    a, b = a.strip(), b.strip()
    if not a and not b:
        return True
    return bool(a and b and (a in b or b in a))


def talent_scores(gold: list[list[dict[str, str]]], pred: list[list[dict[str, str]]]) -> dict[str, float]:
    """Name precision/recall over all documents; title/affiliation agreement on the names found."""
    from pipelines.normalize import to_simplified

    tp = fp = fn = 0
    title_ok = aff_ok = matched = 0
    for g_list, p_list in zip(gold, pred, strict=True):
        g = {to_simplified(t["name"]): t for t in g_list}
        p = {to_simplified(t["name"]): t for t in p_list}
        tp += len(set(g) & set(p))
        fp += len(set(p) - set(g))
        fn += len(set(g) - set(p))
        for name in set(g) & set(p):
            matched += 1
            title_ok += _contains(to_simplified(g[name].get("title", "")), p[name].get("title", ""))
            aff_ok += _contains(to_simplified(g[name].get("affiliation", "")), p[name].get("affiliation", ""))
    return {
        "precision": tp / (tp + fp) if tp + fp else 0.0,
        "recall": tp / (tp + fn) if tp + fn else 0.0,
        "title": title_ok / matched if matched else 0.0,
        "affiliation": aff_ok / matched if matched else 0.0,
    }


# ----------------------------------------------------------------------------------------------------------
# baselines
# ----------------------------------------------------------------------------------------------------------
def _tfidf_lr(train_x: list[str], train_y: list[Any], test_x: list[str]) -> list[Any]:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    if len(set(train_y)) < 2:
        return [train_y[0]] * len(test_x)
    vec = TfidfVectorizer(analyzer="char", ngram_range=(1, 2), sublinear_tf=True, max_features=50000)
    a = vec.fit_transform(train_x)
    from sklearn.multiclass import OneVsRestClassifier

    model = OneVsRestClassifier(LogisticRegression(solver="liblinear", C=10.0))
    model.fit(a, train_y)
    return list(model.predict(vec.transform(test_x)))


def _majority(train_y: list[Any], n: int) -> list[Any]:
    return [Counter(train_y).most_common(1)[0][0]] * n


def _folds(n: int, k: int = 5) -> list[tuple[list[int], list[int]]]:
    idx = list(range(n))
    return [([i for i in idx if i % k != f], [i for i in idx if i % k == f]) for f in range(k)]


def _cv_predict(texts: list[str], labels: list[Any], method: str) -> list[Any]:
    """Out-of-fold predictions of a baseline on the hand labels (they have no train split)."""
    out: list[Any] = [None] * len(texts)
    for train, test in _folds(len(texts)):
        ty = [labels[i] for i in train]
        if method == "majority":
            pred = _majority(ty, len(test))
        else:
            pred = _tfidf_lr([texts[i] for i in train], ty, [texts[i] for i in test])
        for i, p in zip(test, pred, strict=True):
            out[i] = p
    return out


def _cv_domains(texts: list[str], gold: list[set[str]], method: str) -> list[set[str]]:
    """One binary classifier per domain, out of fold."""
    domains = sorted({d for g in gold for d in g})
    out: list[set[str]] = [set() for _ in texts]
    for d in domains:
        pred = _cv_predict(texts, [d in g for g in gold], method)
        for i, p in enumerate(pred):
            if p:
                out[i].add(d)
    return out


# ----------------------------------------------------------------------------------------------------------
# techscout
# ----------------------------------------------------------------------------------------------------------
WARM_UP = (
    "预热",
    "本文基于实验数据研究了新型传感器的信号处理方法，结果表明该方法显著提高了检测精度与稳定性。",
)
WARM_UP_SECONDS: list[float] = []  # CPU seconds of each warm-up (not part of the measured speed)


def run_techscout(rows: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], float]:
    """CLI-equivalent output for each row, and documents per CPU second."""
    from pipelines.classify import classify_record
    from pipelines.taxonomy import load_taxonomy

    taxonomy = load_taxonomy()
    start = time.process_time()
    for text in WARM_UP:  # model file, the domain head's word segmenter
        classify_record({"title": "", "text": text}, taxonomy=taxonomy)
    WARM_UP_SECONDS.append(time.process_time() - start)
    start = time.process_time()
    out = [classify_record(r, taxonomy=taxonomy) for r in rows]
    spent = time.process_time() - start
    return out, len(rows) / spent if spent else float("inf")


def _relevance_inputs(title: str, text: str, head: Any = None) -> list[float]:
    """The inputs of the relevance formula for one text: rule evidence, negative evidence, log length, model."""
    import math
    import re

    from pipelines.classify import char_features, classify, load_model

    c = classify(title, text, model=False)
    rules = next(e for e in c.evidence["relevance"] if e.startswith("rules:"))
    m = re.match(r"rules:\+([\d.]+)/-([\d.]+)", rules)
    assert m
    if head is None:
        model = load_model()
        head = model.heads["relevance"] if model else None
    from pipelines.normalize import normalize_text

    t, b = normalize_text(title), normalize_text(text)
    llr = head.mean_llr(char_features(f"{t}\n{t}\n{b}"), "1") if head else 0.0
    return [float(m.group(1)), float(m.group(2)), math.log1p(len(b[:5000]) / 800.0), llr]


def relevance_training_rows(
    labels: list[dict[str, Any]], corpus: Path = CORPUS
) -> tuple[list[list[float]], list[int], list[float]]:
    """Inputs, targets and sample weights for fitting the relevance weights: the labelled documents (weight 1)
    and the CSLDCP train abstracts (weight 0.02, model input out of fold so that it is not over-confident)."""
    from pipelines.classify import train_head

    x: list[list[float]] = []
    y: list[int] = []
    w: list[float] = []
    for r in labels:
        x.append(_relevance_inputs(r["title"], r["text"]))
        y.append(int(bool(r["scitech_relevant"])))
        w.append(1.0)
    dom_map = json.loads((corpus / "classify" / "csldcp" / "domain_map.json").read_text(encoding="utf-8"))[
        "map"
    ]
    abstracts = list(_jsonl(corpus / "classify" / "csldcp" / "train.jsonl"))
    for k in range(5):
        head = train_head(
            [
                (r["content"], "1" if dom_map.get(r["label"], "?") is not None else "0")
                for i, r in enumerate(abstracts)
                if i % 5 != k and len(r["content"]) >= 60
            ]
        )
        for r in abstracts[k::5]:
            x.append(_relevance_inputs("", r["content"], head))
            y.append(int(dom_map.get(r["label"], "?") is not None))
            w.append(0.02)
    return x, y, w


def fit_relevance(x: list[list[float]], y: list[int], w: list[float]) -> tuple[float, ...]:
    """Logistic weights (bias, rules, negative, log length, model) in the form ``RELEVANCE_WEIGHTS`` takes."""
    from sklearn.linear_model import LogisticRegression

    lr = LogisticRegression(C=10.0, max_iter=1000).fit(x, y, sample_weight=w)
    b = float(lr.intercept_[0])
    wp, wn, wl, wm = (float(v) for v in lr.coef_[0])
    return (round(b, 2), round(wp, 2), round(-wn, 2), round(-wl, 2), round(wm, 2))


def cv_relevance(labels: list[dict[str, Any]], x: list[list[float]], y: list[int], w: list[float]) -> float:
    """Relevance F1 on the hand labels with the weights refitted without each fold (5-fold)."""
    import math

    from pipelines.taxonomy import load_taxonomy

    threshold = load_taxonomy().relevance_threshold
    cut = math.log(threshold / (1.0 - threshold))
    n = len(labels)
    pred = [False] * n
    for train, test in _folds(n):
        keep = [i for i in range(len(x)) if i >= n or i in set(train)]
        b, wp, wn, wl, wm = fit_relevance([x[i] for i in keep], [y[i] for i in keep], [w[i] for i in keep])
        for i in test:
            p, ng, ll, m = x[i]
            pred[i] = b + wp * p - wn * ng - wl * ll + wm * m > cut
    return binary_f1([bool(v) for v in y[:n]], pred)


# ----------------------------------------------------------------------------------------------------------
# the table
# ----------------------------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--build-model", metavar="FILE", help="train the learned layer on the train splits, write FILE"
    )
    parser.add_argument("--fit-relevance", action="store_true", help="print freshly fitted RELEVANCE_WEIGHTS")
    parser.add_argument("--no-cv", action="store_true", help="skip the cross-validated relevance figure")
    args = parser.parse_args(argv)

    if args.build_model:
        from pipelines.classify import train_model

        model = train_model(
            training_examples(), meta={"trained_from": "FewCLUE TNEWS and CSLDCP train splits"}
        )
        model.save(args.build_model)
        print(json.dumps(model.meta, ensure_ascii=False))
        return 0

    labels = load_labels()
    if args.fit_relevance:
        print("RELEVANCE_WEIGHTS =", fit_relevance(*relevance_training_rows(labels)))
        return 0

    rows: list[tuple[str, str, str, str, str, float]] = []  # measure, target, majority, lr, techscout

    def add(measure: str, target: str, maj: float, lr: float, ours: float) -> None:
        best = max(maj, lr)
        rows.append(
            (measure, target, f"{maj:.3f}", f"{lr:.3f}", f"{ours:.3f}", ours / best if best else float("inf"))
        )

    # --- hand labels ---------------------------------------------------------------------------------------
    out, docs_per_s = run_techscout(labels)
    texts = [f"{r['title']}\n{r['text']}" for r in labels]
    g_type = [r["content_type"] for r in labels]
    g_rel = [bool(r["scitech_relevant"]) for r in labels]
    g_dom = [set(r["domains"]) for r in labels]
    g_reg = [r["region"] or "None" for r in labels]
    p_type = [o["content_type"] for o in out]
    maj_type, lr_type = _cv_predict(texts, g_type, "majority"), _cv_predict(texts, g_type, "lr")
    add(
        "labels: content-type accuracy",
        ">=0.80",
        accuracy(g_type, maj_type),
        accuracy(g_type, lr_type),
        accuracy(g_type, p_type),
    )
    add(
        "labels: content-type macro-F1",
        "",
        macro_f1(g_type, maj_type),
        macro_f1(g_type, lr_type),
        macro_f1(g_type, p_type),
    )
    maj_rel, lr_rel = _cv_predict(texts, g_rel, "majority"), _cv_predict(texts, g_rel, "lr")
    p_rel = [bool(o["scitech_relevant"]) for o in out]
    add(
        "labels: relevance F1",
        ">=0.90",
        binary_f1(g_rel, maj_rel),
        binary_f1(g_rel, lr_rel),
        binary_f1(g_rel, p_rel),
    )
    if not args.no_cv:
        cv = cv_relevance(labels, *relevance_training_rows(labels))
        add(
            "labels: relevance F1, weights refitted 5-fold",
            ">=0.90",
            binary_f1(g_rel, maj_rel),
            binary_f1(g_rel, lr_rel),
            cv,
        )
    maj_dom, lr_dom = _cv_domains(texts, g_dom, "majority"), _cv_domains(texts, g_dom, "lr")
    add(
        "labels: domain micro-F1",
        ">=0.75",
        micro_f1_sets(g_dom, maj_dom),
        micro_f1_sets(g_dom, lr_dom),
        micro_f1_sets(g_dom, [set(o["domains"]) for o in out]),
    )
    maj_reg, lr_reg = _cv_predict(texts, g_reg, "majority"), _cv_predict(texts, g_reg, "lr")
    add(
        "labels: region accuracy",
        ">=0.85",
        accuracy(g_reg, maj_reg),
        accuracy(g_reg, lr_reg),
        accuracy(g_reg, [o["region"] or "None" for o in out]),
    )
    tal = talent_scores([r["talents"] for r in labels], [o["talents"] for o in out])
    add("labels: talent precision (names)", ">=0.90", 0.0, 0.0, tal["precision"])
    add("labels: talent recall (names)", ">=0.80", 0.0, 0.0, tal["recall"])
    add("labels: talent title agreement", "", 0.0, 0.0, tal["title"])
    add("labels: talent affiliation agreement", "", 0.0, 0.0, tal["affiliation"])

    # --- TNEWS headlines -------------------------------------------------------------------------------------
    rel_map = json.loads((CORPUS / "classify" / "tnews" / "relevance_map.json").read_text(encoding="utf-8"))[
        "map"
    ]
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
    ty = [bool(rel_map[r["label_desc"]]) for r in tr]
    tn_out, tn_speed = run_techscout([{"title": r["sentence"], "text": ""} for r in dv])
    add(
        "TNEWS dev: relevance F1 (headlines)",
        ">=0.85",
        binary_f1(g, _majority(ty, len(dv))),
        binary_f1(g, _tfidf_lr([r["sentence"] for r in tr], ty, [r["sentence"] for r in dv])),
        binary_f1(g, [bool(o["scitech_relevant"]) for o in tn_out]),
    )

    # --- CSLDCP abstracts -----------------------------------------------------------------------------------
    dom_map = json.loads((CORPUS / "classify" / "csldcp" / "domain_map.json").read_text(encoding="utf-8"))[
        "map"
    ]

    def scored(r: dict[str, Any]) -> bool:
        return dom_map.get(r["label"]) not in (None, "?")

    tr = [r for r in _jsonl(CORPUS / "classify" / "csldcp" / "train.jsonl") if scored(r)]
    dv = [r for r in _jsonl(CORPUS / "classify" / "csldcp" / "dev.jsonl") if scored(r)]
    g_top = [dom_map[r["label"]] for r in dv]
    ty_top = [dom_map[r["label"]] for r in tr]
    cs_out, cs_speed = run_techscout([{"title": "", "text": r["content"]} for r in dv])
    add(
        "CSLDCP dev: top-domain accuracy",
        ">=0.80",
        accuracy(g_top, _majority(ty_top, len(dv))),
        accuracy(g_top, _tfidf_lr([r["content"] for r in tr], ty_top, [r["content"] for r in dv])),
        accuracy(g_top, [(o["domains"] or [None])[0] for o in cs_out]),
    )

    # --- own labelled examples of the sci-tech kinds --------------------------------------------------------
    own = [
        json.loads(line)
        for line in (ROOT / "tests" / "fixtures" / "classify" / "examples.jsonl").open(encoding="utf-8")
    ]
    own_out, _ = run_techscout(own)
    add(
        "own sci-tech examples: content-type accuracy",
        "",
        accuracy([r["content_type"] for r in own], _majority([r["content_type"] for r in own], len(own))),
        float("nan"),
        accuracy([r["content_type"] for r in own], [o["content_type"] for o in own_out]),
    )

    width = max(len(r[0]) for r in rows)
    print(
        f"{'measure':<{width}}  {'target':>7}  {'majority':>8}  {'tfidf+LR':>8}  {'techscout':>9}  {'ratio':>6}"
    )
    for measure, target, maj, lr, ours, ratio in rows:
        print(f"{measure:<{width}}  {target:>7}  {maj:>8}  {lr:>8}  {ours:>9}  {ratio:>6.2f}")
    print()
    print(
        f"speed (one core, CPU time): {docs_per_s:.0f} docs/s on the labelled documents (mean "
        f"{sum(len(r['text']) for r in labels) / len(labels):.0f} characters), {tn_speed:.0f} headlines/s, "
        f"{cs_speed:.0f} abstracts/s; warm-up (model file, word segmenter) {WARM_UP_SECONDS[0]:.1f} s once"
    )
    print(
        "ratio = techscout / the better baseline. Baselines on the labels are 5-fold out-of-fold predictions; "
        "talent baselines do not exist (0)."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
