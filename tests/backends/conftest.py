"""Backends under test: the embedded backend, and the server backend on the session's real OpenSearch node."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from core.items import Article
from pipelines.normalize import normalize_text
from search.backends.base import Backend
from tests.search_node import search_node  # noqa: F401 - the session's OpenSearch node

if TYPE_CHECKING:
    from search.backends.elastic import ElasticBackend


def make_article(
    doc_id: str,
    title: str,
    text: str,
    *,
    source: str = "gov",
    published: str | None = "2024-01-01T09:00:00+08:00",
    content_type: str = "news",
    domains: list[str] | None = None,
    region: str | None = None,
    libraries: list[str] | None = None,
    cluster_id: str = "",
    fingerprint: str = "",
) -> Article:
    """An article as the pipelines would hand it to the store: search fields normalised."""
    return Article(
        id=doc_id,
        url=f"https://{source}.example.cn/{doc_id}.html",
        source=source,
        fetched="2024-06-01T00:00:00+00:00",
        title=title,
        text=text,
        search_title=normalize_text(title),
        search_text=normalize_text(text),
        published=published,
        language="zh",
        content_type=content_type,
        domains=domains or [],
        region=region,
        libraries=libraries or [],
        cluster_id=cluster_id,
        fingerprint=fingerprint or f"fp-{doc_id}",
        relevance=0.8,
        scitech_relevant=True,
    )


def corpus_articles() -> list[Article]:
    """A small, varied collection; the tests below name these documents by id."""
    arts = [
        make_article(
            "ai-policy",
            "人工智能助力科技创新",
            "国家发布人工智能产业发展政策，推动科技创新与实体经济深度融合。\n\n政策提出建设算力基础设施。",
            source="gov",
            content_type="policy",
            domains=["人工智能"],
            region="北京",
            libraries=["problem"],
            published="2024-03-01T10:00:00+08:00",
            cluster_id="c-ai",
        ),
        make_article(
            "ai-trad",
            "人工智慧推動科技創新",
            "臺灣學者研究人工智能晶片與科技創新，產業界積極參與。",
            source="news-a",
            content_type="news",
            domains=["人工智能", "集成电路"],
            region="上海",
            published="2024-03-15T08:00:00+08:00",
            cluster_id="c-ai",
        ),
        make_article(
            "battery",
            "新能源汽车电池技术突破",
            "某大学团队在固态电池技术上取得突破，能量密度大幅提升，相关成果已转化应用。",
            source="news-a",
            content_type="achievement",
            domains=["新能源"],
            region="广东",
            libraries=["project"],
            published="2024-02-10T09:00:00+08:00",
        ),
        make_article(
            "kczg",
            "科创中国平台发布技术需求",
            "科创中国平台近日发布一批企业技术需求，涉及新材料与智能制造。",
            source="gov",
            content_type="demand",
            domains=["新材料"],
            region="北京",
            libraries=["problem"],
            published="2023-12-20T09:00:00+08:00",
        ),
        make_article(
            "kc-apart",
            "中国科创大会召开",
            "中国科创大会在杭州召开，专家讨论科创生态。",
            source="news-b",
            content_type="event",
            region="浙江",
            published="2024-01-20T09:00:00+08:00",
        ),
        make_article(
            "talent",
            "生物医药人才引进计划",
            "某市出台生物医药高层次人才引进计划，给予科研经费支持。",
            source="gov",
            content_type="talent",
            domains=["生物医药"],
            region="江苏",
            libraries=["talent"],
            published="2024-01-05T09:00:00+08:00",
        ),
        make_article(
            "quantum",
            "Quantum computing 量子计算研究进展",
            "研究团队在 quantum computing 领域取得新进展，量子比特数量增加。",
            source="news-b",
            content_type="achievement",
            domains=["量子"],
            published=None,
        ),
    ]
    for i in range(25):
        arts.append(
            make_article(
                f"chain-{i:02d}",
                f"区块链应用案例第{i + 1}期",
                f"本期介绍区块链在供应链金融中的应用，案例编号{i + 1}。",
                source="news-c",
                content_type="news",
                domains=["区块链"],
                region="四川",
                published=f"2023-{(i % 12) + 1:02d}-{(i % 27) + 1:02d}T09:00:00+08:00",
            )
        )
    return arts


def _open_embedded(tmp_path: Path) -> Backend:
    from search.backends.embedded import EmbeddedBackend

    return EmbeddedBackend(tmp_path / "techscout.sqlite")


def open_server(url: str) -> ElasticBackend:
    """A server backend on the test node, with indices of its own (dropped by the caller)."""
    from search.backends.elastic import ElasticBackend

    return ElasticBackend(url, prefix=f"tstest-{uuid.uuid4().hex[:10]}", refresh=True)


@pytest.fixture(params=["embedded", "opensearch"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    if request.param == "embedded":
        b: Backend = _open_embedded(tmp_path)
    else:
        server = open_server(request.getfixturevalue("search_node"))
        b = server
    try:
        yield b
    finally:
        if request.param != "embedded":
            server.drop()
        b.close()


@pytest.fixture
def loaded(backend: Backend) -> Backend:
    backend.upsert(corpus_articles())
    return backend
