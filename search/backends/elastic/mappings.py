"""The indices as ``elasticsearch.dsl`` classes: analyzers, the article document, the percolator and record indices,
and the source of an article as it is indexed."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from elasticsearch.dsl import (
    Boolean,
    Date,
    Document,
    Float,
    Index,
    Keyword,
    MetaField,
    Object,
    Percolator,
    Text,
    analyzer,
)

from core.errors import BackendError
from core.items import Article
from search.backends.common import article_data, body_for_index

if TYPE_CHECKING:
    pass


ANALYSES = ("ik", "smartcn", "cjk", "standard")


#: bumped when the documents index's mapping changes: an older index asks for `techscout reindex`
MAPPING_VERSION = 2


# -- analysis and mappings --------------------------------------------------------------------------------------
GAP_TOKEN = "tsgap"


def _gaps() -> Any:
    """Punctuation, and spaces between Chinese characters, become a token of their own in the ``exact`` field:
    a word or phrase never matches across them, as in the embedded index (whose bigrams stop at them)."""
    from elasticsearch.dsl import char_filter

    return char_filter(
        "ts_gaps",
        "pattern_replace",
        pattern=r"(?<=\p{IsHan})\s+(?=\p{IsHan})|[\p{P}\p{S}]+",
        replacement=f" {GAP_TOKEN} ",
    )


def analyzers(analysis: str) -> dict[str, Any]:
    """The analyzers of one analysis choice: ``main`` (index), ``main_search``, ``exact``, ``words``."""
    if analysis not in ANALYSES:
        raise BackendError(f"unknown analysis {analysis!r} (known: {', '.join(ANALYSES)})")
    width = [] if analysis == "standard" else ["cjk_width"]
    if analysis == "ik":
        main = analyzer("ts_main", tokenizer="ik_max_word", filter=["lowercase"])
        main_search = analyzer("ts_main_search", tokenizer="ik_smart", filter=["lowercase"])
    elif analysis == "smartcn":
        main = analyzer("ts_main", tokenizer="smartcn_tokenizer", filter=["lowercase"])
        main_search = main
    elif analysis == "cjk":
        main = analyzer("ts_main", tokenizer="standard", filter=["cjk_width", "lowercase", "cjk_bigram"])
        main_search = main
    else:
        main = analyzer("ts_main", tokenizer="standard", filter=["lowercase"])
        main_search = main
    if analysis == "standard":  # no analysis-common: no char filters either
        exact = analyzer("ts_exact", tokenizer="standard", filter=["lowercase"])
    else:
        exact = analyzer(
            "ts_exact", tokenizer="standard", filter=[*width, "lowercase"], char_filter=[_gaps()]
        )
    return {
        "main": main,
        "main_search": main_search,
        "exact": exact,
        # the built-in whitespace analyzer where custom tokenizers are missing (the words are lower case already)
        "words": "whitespace"
        if analysis == "standard"
        else analyzer("ts_words", tokenizer="whitespace", filter=["lowercase"]),
    }


def article_document(analysis: str) -> type[Document]:
    """The ``Document`` class (field mappings) of the articles index for one analysis choice."""
    an = analyzers(analysis)

    def cjk_field() -> Text:
        fields = {"exact": Text(analyzer=an["exact"])}
        if an["main_search"] is an["main"]:
            return Text(analyzer=an["main"], fields=fields)
        return Text(analyzer=an["main"], search_analyzer=an["main_search"], fields=fields)

    class ArticleDocument(Document):
        id = Keyword()
        url = Keyword()
        source = Keyword()
        content_type = Keyword()
        domains = Keyword(multi=True)
        libraries = Keyword(multi=True)
        region = Keyword()
        language = Keyword()
        cluster_id = Keyword()
        story_id = Keyword()
        fingerprint = Keyword()
        duplicate_of = Keyword()
        content_hash = Keyword()
        month = Keyword()
        day = Keyword()
        published = Date()
        fetched = Date()
        updated = Date()
        changed = Date()  # when the document was stored or its content last changed (alerts' changes_since)
        relevance = Float()
        scitech_relevant = Boolean()
        search_title = cjk_field()
        search_text = cjk_field()
        title_words = Text(analyzer=an["words"])
        text_words = Text(analyzer=an["words"])
        data = Object(enabled=False)

        class Meta:
            dynamic = MetaField("strict")

    return ArticleDocument


def documents_index(name: str, analysis: str) -> Index:
    """The articles index definition (settings, analysis, mappings)."""
    idx = Index(name)
    idx.settings(number_of_shards=1, auto_expand_replicas="0-1", max_result_window=10000)
    idx.document(cast(Any, article_document(analysis)))
    return idx


def documents_index_body(name: str, analysis: str) -> dict[str, Any]:
    """The create-index body of the articles index, with the mapping version in ``_meta``."""
    body = documents_index(name, analysis).to_dict()
    body.setdefault("mappings", {})["_meta"] = {"techscout_mapping": MAPPING_VERSION, "analysis": analysis}
    return body


def percolator_index(name: str, analysis: str) -> Index:
    """Saved searches: the article fields (queries are parsed against them) plus the stored ``query``."""

    base: Any = article_document(analysis)

    class SavedSearch(base):
        query = Percolator()
        subscription = Keyword()

    idx = Index(name)
    idx.settings(number_of_shards=1, auto_expand_replicas="0-1")
    idx.document(cast(Any, SavedSearch))
    return idx


def simple_index_body(kind: str) -> dict[str, Any]:
    """Settings and mappings of the bookkeeping indices: ``records``, ``revisions`` or ``urlstate``."""
    settings = {"number_of_shards": 1, "auto_expand_replicas": "0-1"}
    if kind == "records":
        props: dict[str, Any] = {
            "collection": {"type": "keyword"},
            "id": {"type": "keyword"},
            "updated": {"type": "double"},
            "fields": {"type": "keyword", "ignore_above": 1024},
            "data": {"type": "object", "enabled": False},
        }
    elif kind == "revisions":
        props = {
            "doc_id": {"type": "keyword"},
            "at": {"type": "keyword"},
            "data": {"type": "object", "enabled": False},
        }
    elif kind == "urlstate":
        props = {
            k: {"type": "keyword"}
            for k in ("url", "source", "doc_id", "etag", "last_modified", "content_hash", "fetched")
        }
        props["status"] = {"type": "integer"}
    else:
        raise BackendError(f"unknown index kind {kind!r}")
    return {"settings": settings, "mappings": {"dynamic": "strict", "properties": props}}


def words_of(text: str) -> str:
    """``text`` segmented into words by jieba (the word field's content): the same words a query is split into."""
    from search.text import segment

    return segment(text)


def article_source(article: Article, chash: str, now: str, changed: str | None = None) -> dict[str, Any]:
    """The stored form of an article in the documents index."""
    published = article.published or None
    title = article.search_title or article.title
    body = body_for_index(article)
    return {
        "id": article.id,
        "url": article.url,
        "source": article.source,
        "content_type": article.content_type,
        "domains": sorted(set(article.domains)),
        "libraries": sorted(set(article.libraries)),
        "region": article.region or None,
        "language": article.language,
        "cluster_id": article.cluster_id or article.id,
        "story_id": article.story_id,
        "fingerprint": article.fingerprint,
        "duplicate_of": article.duplicate_of,
        "content_hash": chash,
        "month": published[:7] if published else None,
        "day": published[:10] if published else None,
        "published": published,
        "fetched": article.fetched or None,
        "updated": now,
        "changed": changed or now,
        "relevance": article.relevance,
        "scitech_relevant": article.scitech_relevant,
        "search_title": title,
        "search_text": body,
        "title_words": words_of(title),
        "text_words": words_of(body),
        "data": article_data(article),
    }
