"""The compiled dedup kernels (pipelines/dedup/kernels.py, through pipelines/dedup/text.py, minhash.py and
story.py) give exactly the outputs of plain numpy/Python reference implementations, kept here, on varied
texts; and the kernels module keeps what numba's cache needs to stay right."""

from __future__ import annotations

import json
import random
import re
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from pipelines.dedup import kernels, story, words
from pipelines.dedup import text as dedup_text_module
from pipelines.dedup.minhash import gram_hashes, signatures
from pipelines.dedup.story import (
    day_mentions,
    quoted_names,
    quoted_names_many,
    segment_many,
    story_terms_many,
)
from pipelines.dedup.text import (
    dedup_text_of,
    fingerprint,
    strip_many,
    strip_text,
    stripped_lines,
    stripped_lines_many,
)
from tests.conftest import REPO

FIXTURES = Path(__file__).parent / "fixtures" / "dedup"
U64 = npt.NDArray[np.uint64]

# --- reference implementations (numpy) --------------------------------------------------------------------

_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_P = np.uint64(0x100000001B3)
_EMPTY = np.uint32(0xFFFFFFFF)


def ref_mix(h: U64) -> U64:
    h = h ^ (h >> np.uint64(30))
    h = h * _M1
    h = h ^ (h >> np.uint64(27))
    h = h * _M2
    return h ^ (h >> np.uint64(31))


def ref_rolling(cps: U64, k: int) -> U64:
    n = len(cps) - k + 1
    h = cps[:n].copy()
    for j in range(1, k):
        h *= _P
        h += cps[j : j + n]
    h += np.uint64(k)
    return ref_mix(h)


def ref_codepoints(text: str) -> U64:
    return np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)


def ref_gram_hashes(dtext: str, k: int) -> U64:
    if not dtext:
        return np.zeros(0, dtype=np.uint64)
    cps = ref_codepoints(dtext)
    return ref_rolling(cps, min(k, len(cps)))


def ref_grams_of_many(dtexts: list[str], k: int) -> tuple[U64, npt.NDArray[np.intp]]:
    lengths = np.fromiter((len(d) for d in dtexts), dtype=np.intp, count=len(dtexts))
    total = int(lengths.sum())
    parts: list[U64] = []
    owners: list[npt.NDArray[np.intp]] = []
    if total >= k:
        h = ref_rolling(ref_codepoints("".join(dtexts)), k)
        ends = np.cumsum(lengths)
        last = (ends[:, None] - np.arange(1, k)[None, :]).ravel()
        last = last[(last >= np.repeat(ends - lengths, k - 1)) & (last < len(h))]
        valid = np.ones(len(h), dtype=np.bool_)
        valid[last] = False
        owner = np.repeat(np.arange(len(dtexts), dtype=np.intp), lengths)[: len(h)]
        parts.append(h[valid])
        owners.append(owner[valid])
    for i in np.flatnonzero((lengths > 0) & (lengths < k)).tolist():
        parts.append(ref_gram_hashes(dtexts[i], k))
        owners.append(np.full(1, i, dtype=np.intp))
    if not parts:
        return np.zeros(0, dtype=np.uint64), np.zeros(0, dtype=np.intp)
    return np.concatenate(parts), np.concatenate(owners)


def ref_densify(sig: npt.NDArray[np.uint32], num_perm: int) -> npt.NDArray[np.uint32]:
    empty = sig == _EMPTY
    if empty.any():
        full = np.flatnonzero(~empty)
        holes = np.flatnonzero(empty)
        pos = np.searchsorted(full, holes) % len(full)
        src = full[pos]
        dist = (src - holes) % num_perm
        mixed = ref_mix(sig[src].astype(np.uint64) + dist.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15))
        sig[holes] = (mixed >> np.uint64(32)).astype(np.uint32)
        sig[sig == _EMPTY] -= np.uint32(1)
    return sig


def ref_signatures(
    dtexts: list[str], num_perm: int = 128, k: int = 5
) -> tuple[npt.NDArray[np.uint32], npt.NDArray[np.int64]]:
    n_docs = len(dtexts)
    bits = int(num_perm - 1).bit_length()
    assert num_perm == 1 << bits
    if n_docs >= 1 << 10:
        sigs = np.empty((n_docs, num_perm), dtype=np.uint32)
        sizes = np.zeros(n_docs, dtype=np.int64)
        for i in range(0, n_docs, 1 << 9):
            sigs[i : i + 512], sizes[i : i + 512] = ref_signatures(dtexts[i : i + 512], num_perm, k)
        return sigs, sizes
    hashes, owner = ref_grams_of_many(dtexts, k)
    keys = np.sort((owner.astype(np.uint64) << np.uint64(54)) | (hashes >> np.uint64(10)))
    sizes = np.zeros(n_docs, dtype=np.int64)
    sig = np.full(n_docs * num_perm, _EMPTY, dtype=np.uint32)
    if len(keys):
        new = np.empty(len(keys), dtype=np.bool_)
        new[0] = True
        np.not_equal(keys[1:], keys[:-1], out=new[1:])
        sizes += np.bincount((keys[new] >> np.uint64(54)).astype(np.intp), minlength=n_docs)
        cell = keys >> np.uint64(54 - bits)
        first = np.empty(len(keys), dtype=np.bool_)
        first[0] = True
        np.not_equal(cell[1:], cell[:-1], out=first[1:])
        vals = ((keys[first] >> np.uint64(54 - bits - 32)) & np.uint64(0xFFFFFFFF)).astype(np.uint32)
        vals[vals == _EMPTY] -= np.uint32(1)
        sig[cell[first].astype(np.intp)] = vals
    sigs = sig.reshape(n_docs, num_perm)
    for i in np.flatnonzero((sizes > 0) & (sigs == _EMPTY).any(axis=1)).tolist():
        ref_densify(sigs[i], num_perm)
    return sigs, sizes


def ref_stripped_lines_many(norms: list[str]) -> list[tuple[list[str], list[str]]]:
    return [stripped_lines(n) for n in norms]


_REF_NOT_WORD = re.compile("[^0-9a-z\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")


def ref_strip_text(text: str) -> str:
    return _REF_NOT_WORD.sub("", text.lower())


_QUOTED = re.compile(r"[“\"「『]([^“”\"「」『』\n]{2,24})[”\"」』]|《([^《》\n]{2,40})》")
_DAY = re.compile(r"(?<!\d)(1[0-2]|0?[1-9])月([12]\d|3[01]|0?[1-9])日")


def ref_lookup(table: words.WordTable, h: U64) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.float32]]:
    slot = (h >> table.shift).astype(np.intp)
    tags = (h & np.uint64(0xFFFFFFFF)).astype(np.uint32)
    tags[tags == 0] = 1
    pending = np.arange(len(h))
    found: list[npt.NDArray[np.intp]] = []
    for _ in range(table.max_probe):
        if not len(pending):
            break
        k = table.tags[slot[pending]]
        hit = k == tags[pending]
        found.append(pending[hit])
        pending = pending[~hit & (k != 0)]
        slot[pending] = (slot[pending] + 1) & table.mask
    if not found:
        return np.zeros(0, dtype=np.intp), np.zeros(0, dtype=np.float32)
    at = np.sort(np.concatenate(found))
    return at, table.idf[slot[at]]


def ref_segment_joined(
    dtexts: list[str],
) -> tuple[U64, npt.NDArray[np.float32], npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    table = words.dictionary()
    joined = "\n".join(dtexts)
    n = len(joined)
    grams = [(k, ref_gram_hashes(joined, k)) for k in (2, 3, 4) if n >= k]
    length = np.zeros(n, dtype=np.int8)
    hashes = np.zeros(n, dtype=np.uint64)
    idf = np.zeros(n, dtype=np.float32)
    if grams:
        allh = np.concatenate([h for _, h in grams])
        at, values = ref_lookup(table, allh)
        offset = 0
        for k, h in grams:
            lo, hi = np.searchsorted(at, [offset, offset + len(h)]).tolist()
            pos = at[lo:hi] - offset
            length[pos] = k
            hashes[pos] = h[pos]
            idf[pos] = values[lo:hi]
            offset += len(h)
    starts = np.flatnonzero(length)
    picked: list[int] = []
    end = 0
    for start, k in zip(starts.tolist(), length[starts].tolist(), strict=True):
        if start >= end:
            picked.append(start)
            end = start + k
    at_ = np.asarray(picked, dtype=np.intp)
    begins = np.cumsum([0] + [len(d) + 1 for d in dtexts[:-1]]).astype(np.intp)
    doc = np.searchsorted(begins, at_, side="right") - 1
    return hashes[at_], idf[at_], at_ - begins[doc], doc


def ref_segment_many(dtexts: list[str]) -> list[tuple[U64, npt.NDArray[np.float32], npt.NDArray[np.intp]]]:
    words, idf, starts, doc = ref_segment_joined(dtexts)
    bounds = np.searchsorted(doc, np.arange(len(dtexts) + 1)).tolist()
    return [(words[a:b], idf[a:b], starts[a:b]) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]


def ref_story_terms_many(
    articles: list[tuple[str, str, list[str] | None]],
) -> list[tuple[U64, npt.NDArray[np.float64]]]:
    leads: list[str] = []
    title_lens: list[int] = []
    extra_h: list[int] = []
    extra_v: list[float] = []
    extra_doc: list[int] = []
    for i, (title, text, lines) in enumerate(articles):
        if lines is None:
            lines = stripped_lines(text)[0]
        body = "\n".join(lines) or text
        dtitle = ref_strip_text(title)
        title_lens.append(len(dtitle))
        leads.append(dtitle + "|" + ref_strip_text(body[:600])[:300])
        for m in _QUOTED.finditer(title + "\n" + body[:4000]):
            phrase = ref_strip_text(m.group(1) or m.group(2))
            if len(phrase) >= 2:
                extra_h.append(story._phrase_int(phrase) & ~1)
                extra_v.append(12.0)
                extra_doc.append(i)
        for m in _DAY.finditer(title + "\n" + body[:600]):
            extra_h.append(story._phrase_int(f"{int(m.group(1))}月{int(m.group(2))}日") | 1)
            extra_v.append(9.0)
            extra_doc.append(i)
    words, idf, starts, doc = ref_segment_joined(leads)
    in_title = starts < np.asarray(title_lens, dtype=np.intp)[doc]
    even = ~np.uint64(1)
    allh = np.concatenate([words & even, words[in_title] & even, np.asarray(extra_h, dtype=np.uint64)])
    allv = np.concatenate([idf, idf[in_title], np.asarray(extra_v, dtype=np.float32)]).astype(np.float64)
    alld = np.concatenate([doc, doc[in_title], np.asarray(extra_doc, dtype=np.intp)])
    rare = allv >= 7.0
    allh, allv, alld = allh[rare], allv[rare], alld[rare]
    order = np.lexsort((allh, alld))
    sh, sd = allh[order], alld[order]
    first = np.ones(len(sh), dtype=np.bool_)
    first[1:] = (sh[1:] != sh[:-1]) | (sd[1:] != sd[:-1])
    at = np.flatnonzero(first)
    counts = np.diff(np.append(at, len(sh)))
    uniq, udoc = sh[at], sd[at]
    weight = allv[order][at] * (1.0 + np.log(counts))
    bounds = np.searchsorted(udoc, np.arange(len(articles) + 1)).tolist()
    return [(uniq[a:b], weight[a:b]) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]


# --- inputs ---------------------------------------------------------------------------------------------


def _corpus_texts() -> list[str]:
    texts = [p.read_text(encoding="utf-8") for p in sorted((FIXTURES / "seeds").glob("*.txt"))]
    texts.append((FIXTURES / "chinanews_original.txt").read_text(encoding="utf-8"))
    for line in (FIXTURES / "abstracts.jsonl").read_text(encoding="utf-8").splitlines():
        texts.append(str(json.loads(line)["text"]))
    return [t for t in texts if t]


def _varied(seed: int, n: int) -> list[str]:
    """Texts of every kind: corpus pieces, mixed scripts, quotes, dates, chrome lines, tiny and huge ones."""
    rng = random.Random(seed)
    corpus = _corpus_texts()
    alphabet = (
        list("科技创新中国协会人才项目问题研究")
        + list('abcXYZ0123 ,.。！？；：\n“”《》「」"')
        + ["İ", "Σ", "😀"]
    )
    out = ["", "a", "ab", "中文", "abc", "科技创新", "1月18日", "“科创”", "\n", "\n\n\n", "x" * 30000]
    for _ in range(n):
        kind = rng.random()
        if kind < 0.4:
            text = rng.choice(corpus)
            a = rng.randrange(len(text))
            out.append(text[a : a + rng.choice([1, 3, 5, 40, 300, 2000, 20000])])
        elif kind < 0.8:
            out.append("".join(rng.choice(alphabet) for _ in range(rng.choice([1, 2, 4, 6, 30, 400]))))
        else:
            out.append("\n".join(rng.choice(corpus)[:200] for _ in range(rng.randint(1, 5))))
    return out


TEXTS = _varied(7, 400)
PLAIN = [t for t in TEXTS if len(t.lower()) == len(t)]  # no character lower-cases into several
BMP = [t for t in PLAIN if max(t, default="a") <= "\uffff"]  # the lower-case table answers every character
DTEXTS = [ref_strip_text(t) for t in TEXTS] + ["", "a", "ab", "abcd", "abcde", "中" * 5000]


# --- tests ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("k", [1, 2, 3, 4, 5, 8])
def test_gram_hashes_match_reference(k: int) -> None:
    for d in DTEXTS:
        assert np.array_equal(gram_hashes(d, k), ref_gram_hashes(d, k))


@pytest.mark.parametrize("size", [1, 2, 7, 130, 1100])
def test_signatures_match_reference(size: int) -> None:
    rng = random.Random(size)
    batch = [rng.choice(DTEXTS) for _ in range(size)]
    got, got_sizes = signatures(batch)
    want, want_sizes = ref_signatures(batch)
    assert got.dtype == np.uint32 and got_sizes.dtype == np.int64
    assert np.array_equal(got, want) and np.array_equal(got_sizes, want_sizes)


@pytest.mark.parametrize("num_perm", [1, 2, 16, 256])
def test_signatures_any_power_of_two(num_perm: int) -> None:
    got, got_sizes = signatures(DTEXTS, num_perm)
    want, want_sizes = ref_signatures(DTEXTS, num_perm)
    assert np.array_equal(got, want) and np.array_equal(got_sizes, want_sizes)


def test_signature_of_no_text_is_empty() -> None:
    sigs, sizes = signatures(["", "ab"])
    assert sizes.tolist() == [0, 1]
    assert (sigs[0] == _EMPTY).all() and not (sigs[1] == _EMPTY).any()
    assert signatures([])[0].shape == (0, 128)


@pytest.mark.parametrize("size", [1, 5, 400])
def test_stripped_lines_many_match_reference(size: int) -> None:
    assert stripped_lines_many(BMP[:size]) == ref_stripped_lines_many(BMP[:size])
    assert stripped_lines_many(PLAIN[:size]) == ref_stripped_lines_many(PLAIN[:size])
    assert stripped_lines_many(TEXTS[:size]) == ref_stripped_lines_many(TEXTS[:size])


def test_dedup_text_and_fingerprint() -> None:
    for norm, (_, stripped) in zip(TEXTS, stripped_lines_many(TEXTS), strict=True):
        joined = "".join(stripped)
        want = joined if len(joined) >= 20 else ref_strip_text(norm)
        assert dedup_text_of(norm, joined) == want
        assert strip_text(norm) == ref_strip_text(norm)
    assert fingerprint("科技") == fingerprint("科技") != fingerprint("科技a")
    assert len(fingerprint("")) == 16


def _same_arrays(
    got: Sequence[tuple[npt.NDArray[Any], ...]], want: Sequence[tuple[npt.NDArray[Any], ...]]
) -> bool:
    return len(got) == len(want) and all(
        len(g) == len(w)
        and all(a.dtype == b.dtype and np.array_equal(a, b) for a, b in zip(g, w, strict=True))
        for g, w in zip(got, want, strict=True)
    )


@pytest.mark.parametrize("size", [1, 3, 50, 1200])
def test_segment_many_matches_reference(size: int) -> None:
    rng = random.Random(size)
    batch = [
        rng.choice(DTEXTS)[: rng.choice([1, 4, 300, 100000])] + rng.choice(["", "|科技"]) for _ in range(size)
    ]
    assert _same_arrays(segment_many(batch), ref_segment_many(batch))
    assert sum(len(w) for w, _, _ in segment_many(batch)) > 0 or size == 1


@pytest.mark.parametrize("size", [1, 3, 50, 1200])
def test_story_terms_many_matches_reference(size: int) -> None:
    rng = random.Random(size)
    titles = ["", "科创中国“科技创新”1月18日", "《三年行动计划》发布", "Abc 12月3日 x", "İ“\ud800科技”3月1日"]
    articles: list[tuple[str, str, list[str] | None]] = []
    for _ in range(size):
        text = rng.choice(TEXTS)
        lines = rng.choice([None, stripped_lines(text)[0], []])
        articles.append((rng.choice(titles), text, lines))
    got = story_terms_many(articles)
    assert _same_arrays(got, ref_story_terms_many(articles))
    assert size < 50 or sum(len(t) for t, _ in got) > 0


def _quote_heavy(seed: int, n: int) -> list[str]:
    rng = random.Random(seed)
    marks = list('“”"「」『』《》\n') + ["月", "日", "1", "0", "12", "３", "٣"]
    words = ["科", "技", "创新", "ab", "x" * 30, "中" * 45, "2023年"]
    return ["".join(rng.choice(marks + words) for _ in range(rng.randint(0, 80))) for _ in range(n)]


def test_quoted_names_and_days_match_regex() -> None:
    texts = _quote_heavy(3, 2000) + TEXTS
    want_names = [[m.group(1) or m.group(2) for m in _QUOTED.finditer(t)] for t in texts]
    assert quoted_names_many(texts) == want_names
    assert [quoted_names(t) for t in texts[:200]] == want_names[:200]
    assert sum(map(len, want_names)) > 100
    want_days = [[(int(m.group(1)), int(m.group(2))) for m in _DAY.finditer(t)] for t in texts]
    assert [day_mentions(t) for t in texts] == want_days
    assert sum(map(len, want_days)) > 20
    assert quoted_names_many([]) == [] and quoted_names("“\ud800科技”") == ["\ud800科技"]


def test_strip_many_matches_strip_text() -> None:
    for texts in (BMP, PLAIN, TEXTS, TEXTS[:1], [], ["", "", "Ab"], ["\u212a\u0130x", "ΣΑΣ a"]):
        assert strip_many(texts) == [ref_strip_text(t) for t in texts]


def test_lower_case_table_agrees_with_str_lower() -> None:
    table = dedup_text_module.lowered_words()
    for c in range(0x10000):
        low = chr(c).lower()
        if len(low) != 1:
            assert table[c] == kernels._MULTI
        else:
            assert table[c] == (ord(low) if _REF_NOT_WORD.sub("", low) else 0), hex(c)
    beyond = np.arange(0x10000, 0x110000, dtype=np.uint32).tobytes().decode("utf-32-le")
    low = beyond.lower()
    plain = len(low) == len(beyond) and not _REF_NOT_WORD.sub("", low)
    assert table[0x10000] == (0 if plain else kernels._MULTI)


def test_lower_cased_path_when_the_table_cannot_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    table = dedup_text_module.lowered_words().copy()
    table[0x10000] = kernels._MULTI  # code points beyond the plane: lower-case the texts first
    monkeypatch.setattr(dedup_text_module, "lowered_words", lambda: table)
    texts = [t + "\U0001f600" for t in PLAIN]
    assert stripped_lines_many(texts) == ref_stripped_lines_many(texts)
    assert strip_many(texts) == [ref_strip_text(t) for t in texts]


@pytest.mark.parametrize("k", [1, 2, 3, 8])
def test_signatures_any_shingle_length(k: int) -> None:
    got, got_sizes = signatures(DTEXTS, 128, k)
    want, want_sizes = ref_signatures(DTEXTS, 128, k)
    assert np.array_equal(got, want) and np.array_equal(got_sizes, want_sizes)


# --- what numba's cache needs ------------------------------------------------------------------------------
PACKAGE = Path(kernels.__file__).parent


def test_every_compiled_kernel_is_cached_and_lives_in_the_kernels_module() -> None:
    """numba keys a kernel's cache by the file it is in: a kernel reading a value or calling a function of
    another module would keep stale compiled code when that module changed. So every kernel of the package is
    in kernels.py, which imports nothing of the project, and every kernel is cached."""
    import ast

    from numba.core.registry import CPUDispatcher

    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        imported |= {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
        if path.name == "kernels.py":
            assert imported <= {"__future__", "collections.abc", "datetime", "numba", "numpy", "numpy.typing", "types", "typing"}, imported
        else:
            assert "numba" not in imported, path
    dispatchers = {n: k for n, k in kernels.jit().items() if isinstance(k, CPUDispatcher)}
    assert len(dispatchers) >= 20
    for name, kernel in dispatchers.items():
        assert type(kernel._cache).__name__ == "FunctionCache", name  # cache=True


def test_read_only_tables_are_built_once_into_a_file_and_mapped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pipelines import mapped

    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path))
    built: list[int] = []

    def build() -> dict[str, Any]:
        built.append(1)
        return {"a": np.arange(10, dtype=np.uint32), "b": np.ones(3, dtype=np.float32)}

    source = tmp_path / "input.txt"
    source.write_text("one", encoding="utf-8")
    first = mapped.mapped_table("t", [source, "v1"], build)
    again = mapped.mapped_table("t", [source, "v1"], build)
    assert built == [1]  # the second process (call) maps the file
    assert again["a"].tolist() == list(range(10)) and again["b"].tolist() == [1.0, 1.0, 1.0]
    assert isinstance(again["a"].base, np.memmap) and again["a"].flags.writeable
    assert first["a"].tolist() == again["a"].tolist()
    source.write_text("two", encoding="utf-8")  # an input changed: built again, the old version removed
    mapped.mapped_table("t", [source, "v1"], build)
    assert built == [1, 1]
    assert len(list((tmp_path / "techscout").glob("t-*"))) == 1


def test_the_mapped_word_table_is_the_one_built_from_jieba() -> None:
    table = words.dictionary()
    fresh = words.WordTable(words.WordTable.build(*words._read_idf(words.idf_file())))
    assert np.array_equal(table.entries, fresh.entries)
    assert np.array_equal(table.used, fresh.used) and np.array_equal(table.tag_bits, fresh.tag_bits)
    assert (table.shift, table.mask, table.max_probe) == (fresh.shift, fresh.mask, fresh.max_probe)
    assert len(table.entries) == 1 << 20


def test_sort_pairs_is_a_stable_sort() -> None:
    rng = np.random.default_rng(3)
    for n, high in ((0, 10), (1, 10), (500, 7), (5000, 2**16), (20000, 2**64 - 1), (3000, 2**40)):
        keys = rng.integers(0, high, n, dtype=np.uint64, endpoint=True)
        if n > 10:
            keys[:5] = [0, 2**64 - 1, 2**63, 2**32, 1]
        vals = rng.integers(0, 2**32 - 1, n, dtype=np.uint32)
        order = np.argsort(keys, kind="stable")
        want_k, want_v = keys[order], vals[order]
        got_k, got_v = kernels.sort_pairs(keys.copy(), vals.copy())
        assert np.array_equal(got_k, want_k) and np.array_equal(got_v, want_v), n


def test_a_warmed_install_runs_the_crawl_paths_without_numba(tmp_path: Path) -> None:
    """After ``techscout dedup --warm`` (the install runs it) every kernel a crawl calls from Python comes from
    the ahead-of-time library: numba and LLVM (over 100 MB of a crawl process) are never imported. A kernel that
    numba also saw called with a constant from another kernel (a literal signature) is exported all the same."""
    code = (
        "import sys\n"
        "from pipelines.dedup.cache import load_library\n"
        "assert load_library() is not None, 'no ahead-of-time library: run techscout dedup --warm'\n"
        "from pipelines.dedup import DedupIndex, warm\n"
        "warm()\n"
        "texts = open(sys.argv[1], encoding='utf-8').read().split('\\n\\n')\n"
        "first = DedupIndex.open(sys.argv[2])\n"  # a crawl in a new data directory
        "for i, t in enumerate(texts[:20]):\n"
        "    first.lookup(f'a{i}', t, title=t[:20], published='2026-12-06')\n"
        "    first.add(f'a{i}', t, title=t[:20], published='2026-12-06')\n"
        "first.close()\n"
        "again = DedupIndex.open(sys.argv[2])\n"  # the next crawl reads the index from the file
        "for i, t in enumerate(texts[20:40]):\n"
        "    again.lookup(f'b{i}', t, published=None)\n"
        "    again.add(f'b{i}', t, published=None)\n"
        "again.close()\n"
        "print('numba' in sys.modules)\n"
    )
    texts = tmp_path / "texts.txt"
    texts.write_text("\n\n".join(_corpus_texts()[:40]), encoding="utf-8")
    out = subprocess.run([sys.executable, "-c", code, str(texts), str(tmp_path / "dedup.sqlite")], cwd=REPO,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "False"
