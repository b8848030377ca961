"""Tools over files: ``techscout extract``, ``techscout classify``, ``techscout dedup`` (JSON lines in and out)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from core.errors import ConfigError, DedupError, ExtractionError, PageTooComplex, TechscoutError
from pipelines.classify import MODEL_FILE_NAME, Model, classify_record, model_for
from pipelines.classify.train import train_model
from pipelines.dedup import DedupIndex, DedupResult, open_index, warm
from pipelines.extract import clean_text_document, extract_bytes
from pipelines.extract.decode import decode_html
from pipelines.spam import clean_spam
from pipelines.taxonomy import taxonomy_for


def cli_dedup(args: argparse.Namespace, settings: Any) -> int:
    """``techscout dedup --jsonl FILE``: one line per input document with its duplicate, cluster and story.
    ``--rebuild``: the data directory's duplicate index rebuilt from the store. ``--warm``: the stage's tables
    built and its kernels compiled (once after installing; crawls then only load them)."""
    if getattr(args, "warm", False):
        from pipelines.segment import segment

        segment("词典")  # the segmenter's mapped dictionary, built here once rather than by the first crawl
        done = warm(build=True)
        state = f"{len(done['compiled'])} compiled" if done["compiled"] else "all loaded from the cache"
        library = ", compiled ahead of time" if done["library"] else ""
        print(f"dedup: {done['kernels']} kernels ({state}{library}), tables mapped, in {done['seconds']:.1f}s")
        return 0
    if getattr(args, "rebuild", False):
        return _rebuild_dedup(settings)
    from crawlers.urls import host_of

    index = DedupIndex()
    try:
        batch: list[dict[str, Any]] = []
        for doc in read_jsonl(args.jsonl, DedupError, require_id=True):
            url = str(doc.get("url") or "")
            batch.append(
                {
                    "id": str(doc["id"]),
                    "text": str(doc.get("text") or ""),
                    "title": str(doc.get("title") or ""),
                    "published": doc.get("published") or None,
                    "url": url,
                    "source": str(doc.get("source") or host_of(url)),
                }
            )
            if len(batch) >= CLI_BATCH:
                print_dedup_results(batch, index.add_many(batch))
                batch = []
    except DedupError:
        print_dedup_results(batch, index.add_many(batch))  # the lines before a bad one are answered
        raise
    except OSError as exc:
        raise DedupError(f"{args.jsonl}: {exc}") from None
    print_dedup_results(batch, index.add_many(batch))
    return 0


def _rebuild_dedup(settings: Any) -> int:
    """Rebuild ``<data>/dedup.sqlite`` from the store's articles (a damaged file is moved aside first)."""
    from search.backends import open_backend

    path = settings.paths.dedup
    backend = open_backend(settings)
    try:
        index, _ = open_index(path)
        try:
            n = index.rebuild(backend.iter_articles())
        finally:
            index.close()
    finally:
        backend.close()
    print(f"{path}: rebuilt from the store, {n} documents")
    return 0


def cli_classify(args: argparse.Namespace, settings: Any) -> int:
    """``techscout classify --jsonl FILE`` prints one JSON line per input; ``--train FILE`` retrains the model."""
    taxonomy = taxonomy_for(settings)
    if getattr(args, "train", None):
        model = train_model(
            read_jsonl(args.train), meta={"trained_from": str(args.train)}, base=model_for(settings)
        )
        out = (
            Path(args.model_out)
            if getattr(args, "model_out", None)
            else Path(settings.data_dir) / MODEL_FILE_NAME
        )
        out.parent.mkdir(parents=True, exist_ok=True)
        model.save(out)
        info = {k: v for k, v in model.meta.items()}
        info["model"] = str(out)
        print(json.dumps(info, ensure_ascii=False))
        return 0
    if not getattr(args, "jsonl", None):
        print("techscout classify: give --jsonl FILE (or - for stdin) or --train FILE", file=sys.stderr)
        return 2
    loaded = model_for(settings)
    use: Model | bool = loaded if loaded is not None else False
    for row in read_jsonl(args.jsonl):
        print(json.dumps(classify_record(row, taxonomy=taxonomy, model=use), ensure_ascii=False), flush=True)
    return 0


def cli_extract(args: argparse.Namespace, settings: Any) -> int:
    """``techscout extract PATH … [--url URL] [--jsonl]``: every field of each page's extraction.

    A page over the extractor's budget is reported on stderr (``too-complex``) and the others go on; the exit
    status is 1 when any page failed.
    """
    files = html_files(list(args.paths))
    failed = 0
    for path in files:
        body = path.read_bytes()
        url = args.url or ""
        try:
            if path.suffix.lower() == ".txt":
                ext = clean_text_document(decode_html(body).text)
            else:
                ext = extract_bytes(body, url)
        except PageTooComplex as exc:
            print(f"{path}: {exc.code}: {exc}", file=sys.stderr)
            failed += 1
            continue
        if ext.text and not ext.spam:
            spam = clean_spam(ext.title, ext.text)
            if spam.found:
                ext.title, ext.text, ext.spam = spam.title, spam.text, spam.found
                ext.repairs.append("spam-removed")
        if args.jsonl:
            row = {"id": path.stem, "url": url, **ext.to_dict(), "source": ext.outlet}
            sys.stdout.write(json.dumps(row, ensure_ascii=False) + "\n")
        else:
            print(f"== {path}")
            print(f"title:     {ext.title}")
            print(f"published: {ext.published or '-'}")
            print(
                f"author:    {ext.author or '-'}    outlet: {ext.outlet or '-'}    language: {ext.language or '-'}"
            )
            if ext.repairs:
                print(f"repairs:   {', '.join(ext.repairs)}")
            if ext.spam:
                print(f"spam:      {', '.join(ext.spam)}")
            if ext.fields:
                print(f"fields:    {json.dumps(ext.fields, ensure_ascii=False)}")
            if ext.attachments:
                print(f"attachments: {', '.join(a['name'] for a in ext.attachments)}")
            preview = ext.text[:300].replace("\n\n", " ¶ ")
            print(f"text ({len(ext.text)} chars): {preview}{'…' if len(ext.text) > 300 else ''}\n")
    return 1 if failed else 0


# --------------------------------------------------------------------------------------------------------------
# command line
# --------------------------------------------------------------------------------------------------------------
def read_jsonl(path: str, error: type[TechscoutError] = ConfigError, require_id: bool = False) -> Iterator[dict[str, Any]]:
    """The JSON objects of a JSON-lines file (``-``: standard input); a bad line is ``error`` naming the line."""
    stream = sys.stdin if path == "-" else open(path, encoding="utf-8")  # noqa: SIM115
    try:
        for n, line in enumerate(stream, 1):
            if not line.strip():
                continue
            try:
                doc = json.loads(line)
            except json.JSONDecodeError as exc:
                raise error(f"{path}: line {n}: not JSON: {exc}") from None
            if not isinstance(doc, dict):
                raise error(f"{path}: line {n}: expected a JSON object")
            if require_id and "id" not in doc:
                raise error(f'{path}: line {n}: expected an object with an "id"')
            yield doc
    finally:
        if stream is not sys.stdin:
            stream.close()


CLI_BATCH = 512


def print_dedup_results(docs: list[dict[str, Any]], results: list[DedupResult]) -> None:
    for doc, result in zip(docs, results, strict=True):
        out = {
            "id": doc["id"],
            "duplicate_of": result.duplicate_of,
            "cluster_id": result.cluster_id,
            "story_id": result.story_id,
        }
        print(json.dumps(out, ensure_ascii=False))
    sys.stdout.flush()


# ---------------------------------------------------------------------------------------------------------------
# CLI: techscout extract PATH ... [--url URL] [--jsonl]
# ---------------------------------------------------------------------------------------------------------------
def html_files(paths: list[str]) -> list[Path]:
    """The HTML and text files named, directories searched recursively."""
    out: list[Path] = []
    for p in paths:
        path = Path(p)
        if path.is_dir():
            out.extend(
                sorted(
                    x
                    for x in path.rglob("*")
                    if x.is_file() and x.suffix.lower() in (".html", ".htm", ".shtml", ".txt", ".xhtml")
                )
            )
        elif path.is_file():
            out.append(path)
        else:
            raise ExtractionError(f"no such file or directory: {p}")
    return out
