"""The text and signature functions of the dedup stage under their former module name, for importers outside
it (``crawlers.distributed``); they live in :mod:`pipelines.dedup.text` and :mod:`pipelines.dedup.minhash`."""

from pipelines.dedup.minhash import band_keys, containment, gram_hashes, signature, signatures, similarity
from pipelines.dedup.rules import NUM_PERM, SHINGLE
from pipelines.dedup.text import (
    content_lines,
    dedup_text,
    dedup_text_of,
    fingerprint,
    strip_many,
    strip_text,
    stripped_lines,
    stripped_lines_many,
)

__all__ = [
    "NUM_PERM",
    "SHINGLE",
    "band_keys",
    "containment",
    "content_lines",
    "dedup_text",
    "dedup_text_of",
    "fingerprint",
    "gram_hashes",
    "signature",
    "signatures",
    "similarity",
    "strip_many",
    "strip_text",
    "stripped_lines",
    "stripped_lines_many",
]
