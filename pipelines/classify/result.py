"""The result of classifying one document: labels with confidence and the evidence behind each."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Label:
    """One label with its confidence (0..1) and the evidence behind it."""

    name: str
    confidence: float
    evidence: list[str] = field(default_factory=list)


@dataclass
class Classification:
    content_type: str
    content_type_confidence: float
    scitech_relevant: bool
    relevance: float
    domains: list[str]
    region: str | None
    region_confidence: float = 0.0
    domain_scores: dict[str, float] = field(default_factory=dict)
    domain_confidence: dict[str, float] = field(
        default_factory=dict
    )  # each chosen domain's confidence (0..1)
    subfields: dict[str, list[str]] = field(default_factory=dict)
    type_scores: dict[str, float] = field(default_factory=dict)
    evidence: dict[str, list[str]] = field(default_factory=dict)
    rule_relevance: tuple[float, float] = (0.0, 0.0)  # the rules' positive and negative relevance evidence

    def labels(self) -> list[Label]:
        """Every label with confidence and evidence, for display."""
        out = [
            Label(
                f"content_type:{self.content_type}",
                self.content_type_confidence,
                self.evidence.get(f"content_type:{self.content_type}", []),
            ),
            Label(
                "scitech_relevant" if self.scitech_relevant else "not_scitech",
                self.relevance,
                self.evidence.get("relevance", []),
            ),
        ]
        for d in self.domains:
            out.append(
                Label(
                    f"domain:{d}",
                    min(1.0, max(0.0, self.domain_confidence.get(d, 0.0))),
                    self.evidence.get(f"domain:{d}", []),
                )
            )
        if self.region:
            out.append(
                Label(
                    f"region:{self.region}",
                    self.region_confidence,
                    self.evidence.get(f"region:{self.region}", []),
                )
            )
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "content_type": self.content_type,
            "content_type_confidence": round(self.content_type_confidence, 3),
            "scitech_relevant": self.scitech_relevant,
            "relevance": round(self.relevance, 3),
            "domains": list(self.domains),
            "region": self.region,
            "evidence": self.evidence,
        }
