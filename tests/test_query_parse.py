"""Query syntax: words, phrases, OR, NOT, script and width normalisation, validation."""

from __future__ import annotations

import pytest

from core.errors import QueryError
from search.query import Clause, ParsedQuery, Query, Term, parse_query
from search.text import fts_expression, index_tokens


def test_words_phrases_or_not() -> None:
    got = parse_query('"科创中国" 电池 OR 储能 -图像 NOT 视频')
    assert got == ParsedQuery(
        must=(Clause((Term("科创中国", phrase=True),)), Clause((Term("电池"), Term("储能")))),
        must_not=(Term("图像"), Term("视频")),
    )


def test_traditional_full_width_and_case_are_normalised() -> None:
    assert parse_query("科技創新 ＡＢＣ") == parse_query("科技创新 abc")
    assert parse_query("「人工智慧」").must[0].alternatives[0] == Term("人工智慧", phrase=True)


def test_empty_and_invalid() -> None:
    assert parse_query("   ").empty
    with pytest.raises(QueryError):
        parse_query('"open')
    with pytest.raises(QueryError):
        Query(filters={"colour": ["red"]})
    with pytest.raises(QueryError):
        Query(facets=["colour"])
    with pytest.raises(QueryError):
        Query(size=5000)


def test_index_tokens_are_bigrams_plus_last_character() -> None:
    assert index_tokens("科创中国 AI芯片") == "科创 创中 中国 国 ai 芯片 片"
    assert index_tokens("中") == "中"


def test_fts_expression_requires_words_contiguously() -> None:
    expr = fts_expression(parse_query("科创 OR 电池 -图像"))
    assert expr == '("科创" OR "电池") NOT "图像"'
    assert fts_expression(parse_query("-图像")) is None


@pytest.mark.parametrize("text", ["\x00", "\x000\x00", "a\x00b", "\x00 OR \x00", '"\x00"', "-\x00", "\x01\x02\x7f", "\x000\x00 芯片"])
def test_control_characters_are_plain_text_never_markers(text: str) -> None:
    parsed = parse_query(text)  # no error, no IndexError from a placeholder
    for clause in parsed.must:
        for term in clause.alternatives:
            assert not term.text.isdigit() or term.text in text


def test_phrases_words_and_exclusions_in_one_pass() -> None:
    parsed = parse_query('芯片"人工智能"-华为 “科创中国” -"旧闻"')
    assert parsed.must == (
        Clause((Term("芯片"),)),
        Clause((Term("人工智能", True),)),
        Clause((Term("科创中国", True),)),
    )
    assert parsed.must_not == (Term("华为"), Term("旧闻", True))
