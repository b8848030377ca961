"""The classification taxonomy (pipelines/taxonomy.py, pipelines/data/taxonomy.yaml)."""

from __future__ import annotations

import os
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from core.errors import ConfigError
from pipelines.taxonomy import CONTENT_TYPES, SHIPPED_TAXONOMY, load_taxonomy, parse_taxonomy, taxonomy_for


def _shipped_doc() -> dict:
    return yaml.safe_load(SHIPPED_TAXONOMY.read_text(encoding="utf-8"))


def _write(tmp_path: Path, doc: dict, name: str = "taxonomy.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    return path


def test_shipped_taxonomy_covers_every_kind_domain_and_province() -> None:
    tax = load_taxonomy()
    assert set(tax.content_types) == set(CONTENT_TYPES)
    assert list(tax.domains) == [
        "电子信息",
        "装备制造",
        "生物医药",
        "新材料",
        "新能源与节能环保",
        "现代农业",
        "其他",
    ]
    assert len(tax.regions) == 34  # 23 provinces, 5 autonomous regions, 4 municipalities, 2 SARs
    for name in ("陕西省", "北京市", "广西壮族自治区", "新疆维吾尔自治区", "香港特别行政区"):
        assert name in tax.regions
    for dom in tax.domains.values():
        assert dom.subfields and all(terms for terms in dom.subfields.values()), dom.name
    # every alias, city and host names exactly one region
    assert tax.region_for_name("西安") == "陕西省"
    assert tax.region_for_name("太原") == "山西省"
    assert tax.region_for_name("全国") == "全国"
    assert tax.region_for_name("巴黎") is None


def test_aliases_are_never_single_characters() -> None:
    # one character (京, 苏, 新) matches inside ordinary words; the shipped file avoids them
    tax = load_taxonomy()
    for region in tax.regions.values():
        assert all(len(a) >= 2 for a in region.aliases + region.cities), region.name


@pytest.mark.parametrize(
    ("mutate", "key"),
    [
        (lambda d: d["content_types"].pop("demand"), "content_types.demand"),
        (lambda d: d["content_types"].__setitem__("gossip", {"title": []}), "content_types.gossip"),
        (
            lambda d: d["content_types"]["policy"].__setitem__("patterns", ["号", "([unclosed"]),
            "content_types.policy.patterns[1]",
        ),
        (lambda d: d["domains"]["电子信息"].__setitem__("集成电路", "芯片"), "domains.电子信息.集成电路"),
        (lambda d: d["relevance"].__setitem__("threshold", 3), "relevance.threshold"),
        (lambda d: d["regions"]["陕西省"].__setitem__("capital", "西安"), "regions.陕西省.capital"),
        (lambda d: d.__setitem__("colours", []), "colours"),
        (lambda d: d.pop("regions"), "regions"),
    ],
)
def test_validation_errors_name_the_file_and_the_key(tmp_path: Path, mutate, key: str) -> None:
    doc = _shipped_doc()
    mutate(doc)
    path = _write(tmp_path, doc)
    with pytest.raises(ConfigError) as err:
        load_taxonomy(path)
    assert str(path) in str(err.value)
    assert repr(key) in str(err.value)


def test_unreadable_files_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_taxonomy(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("domains: [unclosed", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_taxonomy(bad)
    with pytest.raises(ConfigError, match="empty taxonomy"):
        parse_taxonomy({}, "x.yaml")


def test_weights_may_be_lists_or_mappings(tmp_path: Path) -> None:
    doc = _shipped_doc()
    doc["relevance"]["positive"] = ["量子点", "光刻"]
    doc["content_types"]["event"]["terms"] = {"路演": 5}
    tax = load_taxonomy(_write(tmp_path, doc))
    assert tax.positive == {"量子点": 1.0, "光刻": 1.0}
    assert tax.content_types["event"].terms == {"路演": 5.0}


def test_an_edited_file_is_reloaded_without_restarting(tmp_path: Path) -> None:
    doc = _shipped_doc()
    path = _write(tmp_path, doc)
    first = load_taxonomy(path)
    assert load_taxonomy(path) is first  # cached while unchanged
    doc["domains"]["新材料"]["先进材料"].append("超构表面")
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    second = load_taxonomy(path)
    assert second is not first
    assert "超构表面" in second.domains["新材料"].terms


def test_the_setting_names_the_replacement(tmp_path: Path) -> None:
    doc = _shipped_doc()
    doc["relevance"]["threshold"] = 0.7
    path = _write(tmp_path, doc)
    assert taxonomy_for(SimpleNamespace(taxonomy=str(path))).relevance_threshold == 0.7
    assert taxonomy_for(SimpleNamespace(taxonomy="")).path == str(SHIPPED_TAXONOMY)
    assert taxonomy_for(None).path == str(SHIPPED_TAXONOMY)
