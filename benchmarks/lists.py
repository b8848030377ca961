"""List pages of real government sites: does a crawl stay in the list its source points at?

    .venv/bin/python benchmarks/lists.py [--anchor-ref 0a7d6b9] [--sites yzq,hzzy]

Serves the saved list pages of ``tests/fixtures/lists`` (five government sites, hand-labelled items) on local ports
(``tests/listsites.py``) and crawls each with a source of only ``name`` and ``start_urls`` through the real
``techscout crawl`` command, in a subprocess. Every request the sites receive is scored: items of the list fetched
(recall), and fetches that are neither items nor the list's own pagination (precision). Beside it, in the same run:

* **anchor** — the same crawl by the spider of ``--anchor-ref`` (default: the commit this work started from, the
  behaviour before list detection), checked out with ``git archive`` into a temporary folder;
* **every link** — a crawler that follows every same-host link of the start page (computed from the page).

Sites marked ``tune`` in ``gold.json`` were used while choosing the weights of ``crawlers/listing.py``; ``held-out``
sites were not. Totals are printed for each group and overall.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tarfile
import tempfile
from io import BytesIO
from pathlib import Path
from urllib.parse import urljoin, urlsplit

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.listsites import ListSite, ListSites, Score, score  # noqa: E402

DEFAULT_ANCHOR = "0a7d6b9"  # the spider before list detection (parent of the list work on branch "lists")


def write_sources(directory: Path, sites: ListSites) -> None:
    import yaml

    directory.mkdir(parents=True, exist_ok=True)
    for name in sites.sites:
        (directory / f"{name}.yaml").write_text(
            yaml.safe_dump({"name": name, "start_urls": [sites.start_url(name)]}), encoding="utf-8"
        )


def crawl(code: Path, sources: Path, data: Path) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "TECHSCOUT_DELAY": "0",
        "TECHSCOUT_TIMEOUT": "5",
        "TECHSCOUT_ALLOW_PRIVATE_URLS": "true",
        "TECHSCOUT_LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(code),
    }
    env.pop("TECHSCOUT_CONFIG", None)
    cmd = [sys.executable, "-m", "cli", "crawl", "--sources", str(sources), "--json", "--data", str(data)]
    return subprocess.run(cmd, cwd=code, env=env, capture_output=True, text=True, timeout=900)


def checkout(ref: str, into: Path) -> Path | None:
    try:
        tar = subprocess.run(["git", "archive", ref], cwd=REPO, capture_output=True, check=True).stdout
    except (subprocess.CalledProcessError, FileNotFoundError) as exc:
        print(f"anchor {ref!r} not available: {exc}", file=sys.stderr)
        return None
    with tarfile.open(fileobj=BytesIO(tar)) as archive:
        archive.extractall(into, filter="data")
    return into


def every_link(site: ListSite, sites: ListSites) -> Score:
    """A crawler that follows every same-host link of the start page."""
    import lxml.html

    base = sites.start_url(site.name)
    root = lxml.html.document_fromstring(site.html(sites.base(site.name)).decode("utf-8"))
    netloc = urlsplit(base).netloc
    paths = []
    for href in root.xpath("//a/@href"):
        href = str(href).strip()
        if not href or href.lower().startswith(("javascript:", "mailto:", "#")):
            continue
        url = urljoin(base, href).split("#", 1)[0]
        parts = urlsplit(url)
        if parts.netloc == netloc:
            paths.append(parts.path + ("?" + parts.query if parts.query else ""))
    return score(site, paths)


_KINDS = """
import json, sys
from crawlers.pagetype import read_page
from pipelines.extract.decode import decode_html
out = {}
for path, url in json.loads(sys.stdin.read()):
    text = decode_html(open(path, "rb").read(), "").text
    out[path] = read_page(text, url, [url.split("/")[2].split(":")[0]]).kind
print(json.dumps(out))
"""


def page_kinds(code: Path, pages: list[tuple[str, str]]) -> dict[str, str]:
    """``read_page``'s kind for each (file, URL), by the code in ``code``."""
    env = {**os.environ, "PYTHONPATH": str(code)}
    out = subprocess.run([sys.executable, "-c", _KINDS], cwd=code, env=env, input=json.dumps(pages),
                         capture_output=True, text=True, timeout=600, check=True)
    return dict(json.loads(out.stdout))


def confusion(code: Path, sites: ListSites) -> dict[tuple[str, str], list[str]]:
    """(truth, predicted) → pages: the corpus's article pages and the saved list pages."""
    from tests.listsites import CORPUS, FIXTURES

    articles = sorted((CORPUS / "web-zh").glob("*/*.html")) + sorted((CORPUS / "zh-extraction" / "pages").glob("*.html"))
    pages = [(str(p), "http://example.test/a/b.html") for p in articles]
    pages += [(str(FIXTURES / s.file), "http://127.0.0.1" + s.path) for s in sites.sites.values()]
    truth = {str(p): "article" for p in articles} | {str(FIXTURES / s.file): "list" for s in sites.sites.values()}
    result: dict[tuple[str, str], list[str]] = {}
    for path, kind in page_kinds(code, pages).items():
        result.setdefault((truth[path], kind), []).append(Path(path).relative_to(Path(path).parents[1]).as_posix())
    return result


def print_confusion(label: str, table: dict[tuple[str, str], list[str]]) -> None:
    def n(t: str, k: str) -> int:
        return len(table.get((t, k), []))

    print(f"{label:<22} {n('article', 'article'):>8} {n('article', 'list'):>8} {n('list', 'article'):>8} {n('list', 'list'):>8}"
          f"   {', '.join(table.get(('article', 'list'), []) + table.get(('list', 'article'), [])) or '-'}")


def run(code: Path, sites: ListSites, work: Path, label: str) -> dict[str, Score]:
    sources = work / f"sources-{label}"
    write_sources(sources, sites)
    sites.reset()
    out = crawl(code, sources, work / f"data-{label}")
    if out.returncode not in (0, 1):
        raise SystemExit(f"{label} crawl failed ({out.returncode}):\n{out.stderr[-3000:]}")
    summaries = {s["source"]: s for s in json.loads(out.stdout or "[]")}
    if set(summaries) != set(sites.sites):
        raise SystemExit(f"{label} crawl reported {sorted(summaries)}, expected {sorted(sites.sites)}")
    return {name: score(site, sites.paths(name)) for name, site in sites.sites.items()}


def fmt(s: Score) -> str:
    return f"{s.fetched_items:>3} {s.non_items:>4} {s.precision:>5.3f} {s.recall:>5.3f}"


def total(scores: list[Score]) -> Score:
    return Score(
        items=sum(s.items for s in scores),
        fetched_items=sum(s.fetched_items for s in scores),
        non_items=sum(s.non_items for s in scores),
        pagination=sum(s.pagination for s in scores),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--anchor-ref", default=DEFAULT_ANCHOR, help="git ref of the anchor spider ('' for none)")
    parser.add_argument("--sites", default="", help="comma-separated site names (default: all)")
    parser.add_argument("--strays", action="store_true", help="list the stray fetches of each site")
    args = parser.parse_args()
    names = [n for n in args.sites.split(",") if n] or None
    with ListSites(names) as sites, tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        ours = run(REPO, sites, work, "techscout")
        anchor: dict[str, Score] = {}
        if args.anchor_ref:
            code = checkout(args.anchor_ref, work / "anchor")
            if code is not None:
                anchor = run(code, sites, work, "anchor")
        naive = {name: every_link(site, sites) for name, site in sites.sites.items()}
        kinds = {"techscout": confusion(REPO, sites)}
        if anchor:
            kinds["anchor"] = confusion(work / "anchor", sites)

        head = "fetched items, non-items, precision, recall"
        print(f"List pages of government sites — {head} (anchor: spider at {args.anchor_ref or '-'}; "
              "every link: all same-host links of the start page)\n")
        print(f"{'site':<11} {'split':<9} {'gold':>4} | {'techscout':^21} | {'anchor':^21} | {'every link':^21}")
        print(f"{'':<11} {'':<9} {'':>4} | {'it':>3} {'non':>4} {'P':>5} {'R':>5} | {'it':>3} {'non':>4} {'P':>5} {'R':>5}"
              f" | {'it':>3} {'non':>4} {'P':>5} {'R':>5}")
        for name, site in sites.sites.items():
            a = fmt(anchor[name]) if name in anchor else " " * 21
            print(f"{name:<11} {site.split:<9} {site.items.__len__():>4} | {fmt(ours[name])} | {a} | {fmt(naive[name])}")
        for group in ("tune", "held-out", None):
            members = [n for n, s in sites.sites.items() if group is None or s.split == group]
            if not members:
                continue
            t_ours = total([ours[n] for n in members])
            t_anchor = total([anchor[n] for n in members]) if anchor else None
            t_naive = total([naive[n] for n in members])
            a = fmt(t_anchor) if t_anchor else " " * 21
            label = group or "all"
            print(f"{'= ' + label:<21} {t_ours.items:>4} | {fmt(t_ours)} | {a} | {fmt(t_naive)}")
        print("\nPage type (read_page) of the corpus's article pages (web-zh, zh-extraction) and the saved list pages:")
        print(f"{'':<22} {'articles read as':^17} {'lists read as':^17}")
        print(f"{'':<22} {'article':>8} {'list':>8} {'article':>8} {'list':>8}   wrong")
        for label, table in kinds.items():
            print_confusion(label, table)
        if args.strays:
            for name in sites.sites:
                print(f"\n{name}: stray fetches by techscout: {ours[name].strays}")
                if name in anchor:
                    print(f"{name}: stray fetches by the anchor: {anchor[name].strays}")


if __name__ == "__main__":
    main()
