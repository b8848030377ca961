"""Search-form normalisation: width, pinyin annotations, traditional → simplified."""

from __future__ import annotations

from core.items import Article
from pipelines.normalize import NormalizePipeline, normalize_text, strip_pinyin_annotations, to_simplified


def test_pinyin_annotations_are_removed_with_their_space() -> None:
    assert strip_pinyin_annotations("中國科協為(wei) 更好促進舉(ju) 行") == "中國科協為更好促進舉行"
    assert strip_pinyin_annotations("中國科協(xié)辦公廳關于印發(fā)") == "中國科協辦公廳關于印發"
    assert strip_pinyin_annotations("發（fā）布") == "發布"


def test_acronyms_in_brackets_are_not_pinyin() -> None:
    text = "人工智能(AI)与氮化镓(GaN)器件，编号(2021)"
    assert strip_pinyin_annotations(text) == text


def test_normalize_text_is_the_search_form() -> None:
    assert normalize_text("“科創中國”三年行動計劃") == "“科创中国”三年行动计划"
    assert normalize_text("ＡＢＣ１２３　科技") == "ABC123 科技"
    assert normalize_text("第一段\n\n\n\n第二段  ") == "第一段\n\n第二段"
    assert normalize_text("") == ""
    assert to_simplified("協會") == "协会"


def test_pipeline_keeps_display_text_and_fills_search_fields() -> None:
    art = Article(id="x", url="u", source="s", fetched="t", title="科創中國", text="中國科協為(wei) 更好促進")
    out = NormalizePipeline().process_item(art)
    assert out.text == "中國科協為(wei) 更好促進"
    assert out.search_text == "中国科协为更好促进"
    assert out.search_title == "科创中国"
    assert "simplified" in out.repairs and "pinyin-removed" in out.repairs
