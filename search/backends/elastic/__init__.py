"""The server backend: the same ``Backend`` protocol as the embedded one, on Elasticsearch or OpenSearch.

One code path for both products: every request is a REST path and a JSON body built here (mappings as
``elasticsearch.dsl`` document classes, queries with its ``Q``/``Search``); :class:`SearchClient` only sends it,
through the official ``elasticsearch`` client to Elasticsearch and through ``opensearch-py`` to OpenSearch (the
``elasticsearch`` client refuses to talk to OpenSearch). Which product a URL serves is read from the server's
answer (``GET /``'s ``version.distribution``, or the ``X-Elastic-Product`` header); the ``backend`` setting
names the expected one and a mismatch is an error saying so.

Indices (``P`` is ``settings.elasticsearch_prefix``):

* ``P-documents-v<N>`` behind the alias ``P-documents``: articles; :meth:`ElasticBackend.reindex` copies them
  into ``v<N+1>`` (client-side, so servers without the reindex module can do it) and moves the alias, while
  searches keep answering from the old index;
* ``P-revisions``: earlier versions of changed documents; ``P-urlstate``: URL state, one document per URL;
* ``P-records``: the records of every collection (runs, entries, subscriptions, deliveries, users, tokens, meta),
  id ``<collection>:<id>``: the record as an unindexed object plus ``fields``, a keyword per top-level scalar
  (``state=pending``), which ``list_records`` filters on (portable: no ``flattened``/``flat_object`` type);
* ``P-percolator``: every saved search as a stored query (where the server has the percolator module), so
  :meth:`ElasticBackend.percolate` asks the server which subscriptions a batch matches; without the module it
  runs the saved searches over the batch with one ``_msearch``.

Chinese text is indexed twice: a **cjk** field (standard tokenizer, ``cjk_width``, ``lowercase``,
``cjk_bigram`` — the embedded index's bigrams) with an ``exact`` sub-field of single characters on which words and
phrases are matched as contiguous sequences (so a query finds the same documents as the embedded backend), and a
**word** field holding the text segmented by jieba (whitespace analyzer), which adds word-level relevance. The IK
or smartcn plugins replace the cjk analyzer when the cluster has them; a server without ``analysis-common``
(Elastic's bare server core) gets standard tokens.

The package, by role: :mod:`.client` (which product, one client for both), :mod:`.mappings` (indices as
``elasticsearch.dsl`` classes), :mod:`.queries` (staff queries and saved searches as DSL queries), :mod:`.backend`
(:class:`ElasticBackend`, the protocol).
"""

from search.backends.elastic.backend import ElasticBackend, bulk_write, record_fields
from search.backends.elastic.client import PRODUCTS, SearchClient, ServerError, detect_product, host_of
from search.backends.elastic.mappings import (
    ANALYSES,
    MAPPING_VERSION,
    article_source,
    documents_index,
    percolator_index,
    simple_index_body,
)
from search.backends.elastic.queries import build_search, percolator_query

__all__ = [
    "ANALYSES",
    "MAPPING_VERSION",
    "PRODUCTS",
    "ElasticBackend",
    "SearchClient",
    "ServerError",
    "article_source",
    "build_search",
    "bulk_write",
    "detect_product",
    "documents_index",
    "host_of",
    "percolator_index",
    "percolator_query",
    "record_fields",
    "simple_index_body",
]
