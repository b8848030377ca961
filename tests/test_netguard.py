"""The outbound-URL guard: one parser, one address check (core/netguard.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from core import netguard
from core.errors import BlockedUrl, UrlError


@pytest.fixture
def names() -> Iterator[dict[str, list[str]]]:
    """A local resolver: names map to the addresses a test chooses (no DNS server involved)."""
    table: dict[str, list[str]] = {}

    def resolver(host: str, port: int) -> list[str]:
        if host not in table:
            raise OSError("name not known")
        return table[host]

    previous = netguard.set_resolver(resolver)
    yield table
    netguard.set_resolver(previous)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/",
        "http://2130706433/",  # 127.0.0.1 as one number
        "http://0x7f.1/",
        "http://127.1/",
        "http://[::1]/",
        "http://[::ffff:127.0.0.1]/",  # IPv4-mapped
        "http://[64:ff9b::a9fe:a9fe]/",  # NAT64 form of 169.254.169.254
        "http://[2002:7f00:1::]/",  # 6to4 of 127.0.0.1
        "http://10.1.2.3/",
        "http://172.16.0.1/",
        "http://192.168.1.1/",
        "http://169.254.169.254/latest/meta-data/",
        "http://100.100.100.200/",  # CGNAT range, a cloud metadata address
        "http://0.0.0.0/",
        "http://224.0.0.1/",
        "http://240.0.0.1/",
        "http://[fe80::1]/",
        "http://[fc00::1]/",
        "http://localhost:8080/",
        "http://db.internal/",
        "http://printer.local/",
    ],
)
def test_private_addresses_are_blocked(url: str) -> None:
    with pytest.raises(BlockedUrl):
        netguard.check_url(url, resolve_names=False)
    assert netguard.check_url(url, allow_private=True, resolve_names=False).host


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://[::1", "地址格式错误"),
        ("http://example.com:99999/", "端口"),
        ("http://8.8.8.8:99999/", "端口"),
        ("http://example.com:abc/", "端口"),
        ("http://exa mple.com/hook", "空格或控制字符"),
        ("http://exa\x00mple.com/", "空格或控制字符"),
        ("example.com/hook", "不是完整的地址"),
        ("http:///nohost", "缺少主机名"),
        ("http://bad_host!.com/", "主机名无效"),
    ],
)
def test_malformed_urls_are_named(url: str, why: str) -> None:
    with pytest.raises(UrlError, match=f"webhook: .*{why}") as info:
        netguard.parse_url(url, field="webhook")
    assert not isinstance(info.value, BlockedUrl)


def test_names_are_judged_by_every_address(names: dict[str, list[str]]) -> None:
    names["public.example"] = ["93.184.216.34"]
    names["rebind.example"] = ["93.184.216.34", "127.0.0.1"]
    names["meta.example"] = ["::ffff:169.254.169.254"]
    assert netguard.resolve("public.example", 80) == ["93.184.216.34"]
    assert netguard.check_url("https://public.example/x").host == "public.example"
    for host in ("rebind.example", "meta.example"):
        with pytest.raises(BlockedUrl, match=host):
            netguard.resolve(host, 80)
        with pytest.raises(BlockedUrl):
            netguard.check_url(f"http://{host}/")
    assert netguard.resolve("rebind.example", 80, allow_private=True) == ["93.184.216.34", "127.0.0.1"]
    with pytest.raises(UrlError, match="无法解析主机名"):
        netguard.resolve("missing.example", 80)
    # a name that does not resolve reaches nothing: accepted when a URL is saved, checked again when used
    assert netguard.check_url("http://missing.example/").host == "missing.example"


def test_public_urls_pass_and_print_without_secrets() -> None:
    url = netguard.check_url("https://user:secret@www.most.gov.cn:8443/xxgk/?token=abc#top", resolve_names=False)
    assert (url.scheme, url.host, url.port, url.effective_port) == ("https", "www.most.gov.cn", 8443, 8443)
    assert url.redacted() == "https://www.most.gov.cn:8443/xxgk/"
    assert netguard.parse_url("http://例子.中国/").host == "xn--fsqu00a.xn--fiqs8s"
    with pytest.raises(UrlError, match="不支持 ftp://"):
        netguard.parse_url("ftp://example.com/", schemes=("http", "https"))
