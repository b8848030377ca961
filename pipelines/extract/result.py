"""What one page yields: :class:`Extraction`."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class Extraction:
    """The article found on one page (empty fields where the page does not say)."""

    title: str = ""
    text: str = ""  # paragraphs separated by "\n\n"
    published: str | None = None  # ISO 8601 with offset
    author: str = ""
    outlet: str = ""
    language: str = ""
    repairs: list[str] = field(default_factory=list)
    fields: dict[str, Any] = field(default_factory=dict)  # policy fields: 发文字号, 发文机关, 成文日期 ...
    attachments: list[dict[str, Any]] = field(default_factory=list)  # {"url", "name", "type"}
    spam: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
