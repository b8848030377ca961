"""Decoding before parsing: every repair the decoder can list, on small generated pages."""

from __future__ import annotations

from pipelines.extract.decode import decode_html

ARTICLE = "中国科协发布《科技成果评价指南》，推动科技成果转化。"


def _page(charset: str | None, body: str) -> str:
    meta = f'<meta charset="{charset}">' if charset else ""
    return f"<html><head>{meta}<title>测试</title></head><body><p>{body}</p></body></html>"


def test_gbk_page_without_charset_is_detected() -> None:
    raw = _page(None, ARTICLE).encode("gbk")
    d = decode_html(raw)
    assert ARTICLE in d.text
    assert d.encoding == "gb18030"
    assert "charset-detected:gb18030" in d.repairs


def test_gb2312_label_with_gbk_only_characters_is_upgraded() -> None:
    text = ARTICLE + "镕基与喆、堃、昇"  # 镕/喆/堃/昇 are outside GB2312
    raw = _page("gb2312", text).encode("gbk")
    d = decode_html(raw)
    assert text in d.text
    assert "\ufffd" not in d.text
    assert "charset-upgraded:gb2312->gb18030" in d.repairs


def test_plain_gb2312_page_has_no_repairs() -> None:
    raw = _page("gb2312", ARTICLE).encode("gb2312")
    d = decode_html(raw)
    assert ARTICLE in d.text
    assert d.repairs == []


def test_wrong_declared_utf8_on_gbk_bytes_is_corrected() -> None:
    raw = _page("utf-8", ARTICLE).encode("gbk")
    d = decode_html(raw)
    assert ARTICLE in d.text
    assert d.repairs == ["charset-corrected:utf-8->gb18030"]


def test_utf8_bytes_labelled_gbk_are_read_as_utf8() -> None:
    raw = _page("gbk", ARTICLE).encode("utf-8")
    d = decode_html(raw, "text/html; charset=GBK")
    assert ARTICLE in d.text
    assert d.encoding == "utf-8"
    assert d.repairs == ["charset-corrected:gbk->utf-8"]


def test_latin1_label_on_chinese_bytes_is_overruled() -> None:
    raw = _page("iso-8859-1", ARTICLE * 3).encode("gbk")
    d = decode_html(raw)
    assert ARTICLE in d.text
    assert d.encoding == "gb18030"
    assert d.repairs[0].startswith("charset-corrected:iso-8859-1->")


def test_header_charset_wins_over_meta_when_it_fits() -> None:
    text = "繁體中文頁面，科技創新與產業發展。"
    raw = f'<html><head><meta charset="gbk"></head><body><p>{text}</p></body></html>'.encode("big5")
    d = decode_html(raw, "text/html; charset=big5")
    assert text in d.text
    assert d.encoding == "big5hkscs"


def test_truncated_multibyte_tail_is_tolerated() -> None:
    raw = _page("gbk", ARTICLE).encode("gbk")
    cut = raw[: raw.index("转".encode("gbk")) + 1]  # ends inside a two-byte character
    d = decode_html(cut)
    assert "推动科技成果" in d.text
    assert "truncated-multibyte" in d.repairs


def test_a_few_stray_bytes_are_replaced_not_fatal() -> None:
    raw = _page("utf-8", ARTICLE * 20).encode("utf-8")
    broken = raw[:200] + b"\xff" + raw[200:]
    d = decode_html(broken)
    assert d.encoding == "utf-8"
    assert "undecodable-bytes-replaced" in d.repairs
    assert d.text.count("\ufffd") == 1


def test_bom_and_empty_input() -> None:
    assert decode_html(b"\xef\xbb\xbf" + _page(None, ARTICLE).encode()).text.startswith("<html>")
    empty = decode_html(b"")
    assert empty.text == ""
    assert empty.repairs == []
