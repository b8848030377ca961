"""Duplicates, reprint clusters and stories.

* **Exact duplicates**: the same dedup text (:func:`dedup_text`: normalised, navigation lines, punctuation and
  whitespace removed) has the same :func:`fingerprint`.
* **Near-duplicates** (reprints with another script, pinyin annotations, spam, chrome, cut or reordered
  paragraphs, another headline): one-permutation MinHash signatures of 5-character shingles, found through LSH
  bands and confirmed by :data:`NEAR_DUPLICATE` (estimated Jaccard similarity, or for cut reprints the
  estimated containment of the shorter text in the longer). Every document gets a ``cluster_id``: the id of
  the first member seen, which never changes; :func:`cluster_head` names the earliest-published member.
* **Stories**: different articles about one event share salient rare terms (dictionary words of the headline
  and lead, quoted names, day mentions, weighted by how rarely they are salient elsewhere) and are published
  within a few days of each other; they get one ``story_id``, kept apart from ``cluster_id``.

The package, by role (each module imports only those listed before it):

========================  ===========================================================================
``kernels``               every compiled pass (numba), taking the rules' parameters as arguments
``rules``                 every parameter and decision: :data:`NEAR_DUPLICATE`, :func:`best_match`,
                          :func:`cluster_head`, how a publication date is read
``cache``                 what is built once per machine: the kernels' cache, memory-mapped tables
``text``                  the dedup text, content lines, :func:`fingerprint`
``minhash``               signatures, band keys, similarity and containment estimates
``words``, ``story``      the dictionary of story words (memory-mapped); the salient terms of an article
``tables``                sorted key → document-slot tables (LSH bands, story terms)
``prepare``               a document's keys, for many documents at once; :func:`document_keys`
``persistence``           the index's SQLite file (a derived index, rebuilt from the store when lost)
``index``                 :class:`DedupIndex`, :class:`DedupResult`
``warm``                  :func:`warm`: tables and kernels loaded before the first document
``pipeline``              :class:`DedupPipeline` (the Scrapy stage), :func:`dedup_article`
========================  ===========================================================================
"""

from pipelines.dedup.index import DedupIndex, DedupResult
from pipelines.dedup.minhash import band_keys, containment, signature, signatures, similarity
from pipelines.dedup.pipeline import DedupPipeline, dedup_article, open_index
from pipelines.dedup.prepare import DocumentKeys, document_keys
from pipelines.dedup.rules import (
    BANDS,
    BOILERPLATE_MIN,
    CONTAINMENT_JACCARD_MIN,
    CONTAINMENT_MIN,
    JACCARD_MIN,
    NEAR_DUPLICATE,
    NUM_PERM,
    SHINGLE,
    SHORT_TEXT,
    STORY_DAYS,
    STORY_MIN_SHARED,
    STORY_MIN_SHARED_DAY,
    STORY_MIN_SHARED_UNDATED,
    STORY_TERMS,
    NearDuplicate,
    best_match,
    cluster_head,
    parse_published,
)
from pipelines.dedup.story import story_terms
from pipelines.dedup.text import content_lines, dedup_text, fingerprint
from pipelines.dedup.warm import warm

__all__ = [
    "BANDS",
    "BOILERPLATE_MIN",
    "CONTAINMENT_JACCARD_MIN",
    "CONTAINMENT_MIN",
    "JACCARD_MIN",
    "NEAR_DUPLICATE",
    "NUM_PERM",
    "SHINGLE",
    "SHORT_TEXT",
    "STORY_DAYS",
    "STORY_MIN_SHARED",
    "STORY_MIN_SHARED_DAY",
    "STORY_MIN_SHARED_UNDATED",
    "STORY_TERMS",
    "DedupIndex",
    "DedupPipeline",
    "DedupResult",
    "DocumentKeys",
    "NearDuplicate",
    "band_keys",
    "best_match",
    "cluster_head",
    "containment",
    "content_lines",
    "dedup_article",
    "dedup_text",
    "document_keys",
    "fingerprint",
    "open_index",
    "parse_published",
    "signature",
    "signatures",
    "similarity",
    "story_terms",
    "warm",
]
