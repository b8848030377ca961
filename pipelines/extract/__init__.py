"""Article extraction, trafilatura-style: flat modules named for what they do, one public surface here.

=================  ===========================================================================================
module             what it does
=================  ===========================================================================================
``core``           :func:`extract_article` / :func:`extract_bytes`: the order of the stages and of the evidence
``decode``         bytes → text (BOM, HTTP and ``<meta>`` charsets checked against the bytes, GB18030, Big5)
``budget``         the per-page budget (characters, elements, attributes, CPU time) → ``too-complex``
``tree``           parsing (broken pages repaired as browsers do), cleaning, ``<meta>`` tags, selectors
``chars``          what counts as CJK, punctuation and space; icon-font glyphs removed
``blocks``         the page cut into valued text blocks; the body is the best-valued run
``body``           the body's lines without headline, bylines and furniture; trafilatura for Western pages
``boilerplate``    lines that surround an article (credits, widgets, copyright)
``title``          the headline, site names cut from ``<title>``
``metadata``       publish time, author, outlet and language, in order of evidence
``dates``          dates in every Chinese and Western layout → ISO 8601 with offset
``bylines``        来源 / 作者 / 记者 / 责编 in every layout
``policy``         the metadata table of government documents (labels in ``pipelines/data/policy_labels.yaml``)
``attachments``    PDF/DOC/OFD links of policy pages; text of PDF and DOCX files
``text``           plain text "as scraped"
``pipeline``       the Scrapy stage (``ExtractPipeline``) and why a page is dropped
``processes``      the crawl's extraction processes: pages extracted on another core, nothing lost if one dies
=================  ===========================================================================================
"""

from __future__ import annotations

from core.errors import PageTooComplex
from pipelines.extract.attachments import ATTACHMENT_TYPES
from pipelines.extract.budget import DEFAULT_BUDGET, PageBudget
from pipelines.extract.core import MIN_BODY_CHARS, binary_kind, extract_article, extract_bytes
from pipelines.extract.pipeline import (
    DROP_REASONS,
    ArticleDropped,
    ExtractPipeline,
    article_from,
    drop_reason,
    extract_page,
)
from pipelines.extract.result import Extraction
from pipelines.extract.text import clean_text_document
from pipelines.extract.title import clean_title

__all__ = [
    "ATTACHMENT_TYPES",
    "DEFAULT_BUDGET",
    "DROP_REASONS",
    "MIN_BODY_CHARS",
    "ArticleDropped",
    "ExtractPipeline",
    "Extraction",
    "PageBudget",
    "PageTooComplex",
    "article_from",
    "binary_kind",
    "clean_text_document",
    "clean_title",
    "drop_reason",
    "extract_article",
    "extract_bytes",
    "extract_page",
]
