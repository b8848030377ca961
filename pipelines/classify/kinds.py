"""Content type: which of the seven kinds a document is.

The learned ``kind`` head (logistic regression over the headline's and the body's character n-grams, with the
rules' numbers from :func:`~pipelines.classify.signals.kind_features` beside them) gives a probability to each
kind; ``other`` is the kind of texts that are not sci-tech resources. Without the head a fixed rule picks the
best-scored kind. Then the kind rules written for a kind of text apply (:func:`apply_kind_rules`):

* a consumer product launched or promoted (phones, cars, sales) is news (other when not sci-tech), never an
  achievement;
* a law, a regulation or an order (法、条例、令、规定、办法) is a policy;
* a call to enter a contest or a fair (大赛、赛事报名、对接会、路演) is an event, not a demand;
* a study reported in general news about a foreign team is news unless an organisation presents it as its own
  result.
"""

from __future__ import annotations

from collections.abc import Mapping

from pipelines.classify.linear import TITLE_SEP, LinearHead
from pipelines.classify.signals import KINDS, Signals

TYPE_MIN_SCORE = 4.0  # the fixed rule: below this score the relevant document is plain "news"
KIND_TEXT_CHARS = 1000  # body characters the kind head reads

# thresholds of the kind rules (counts of cue words: a headline hit counts twice)
CONSUMER_SALE_MIN = 2.0
CONSUMER_PRODUCT_MIN = 1.0
LAW_TEXT_MIN = 2.0  # promulgation formula or articles (第一条 …) in the body
CONTEST_TITLE_MIN = 1  # contest words in the headline
STUDY_MIN = 2.0
OWN_RESULT_MAX = 2.0  # more own-result words than this: the organisation presents its own result


def kind_text(title: str, body: str) -> str:
    """The text the kind head reads: the headline and the body's lead."""
    return f"{title}{TITLE_SEP}{body[:KIND_TEXT_CHARS]}"


def kind_posterior(head: LinearHead, sig: Signals, features: Mapping[str, float]) -> dict[str, float]:
    return head.posterior(kind_text(sig.title, sig.body), features)


def rule_kind(sig: Signals) -> tuple[str, float]:
    """The fixed rule for a relevant document: the best-scored kind if it passes ``TYPE_MIN_SCORE`` and beats
    news, else news."""
    scores = sig.type_scores
    ranked = sorted(((v, k) for k, v in scores.items() if k != "news"), reverse=True)
    best_score, best_type = ranked[0] if ranked else (0.0, "news")
    if best_score >= TYPE_MIN_SCORE and best_score > scores.get("news", 0.0):
        second = ranked[1][0] if len(ranked) > 1 else 0.0
        return best_type, min(1.0, 0.4 + 0.6 * (best_score - second) / (best_score + 1.0))
    return "news", 0.5


def is_consumer_launch(sig: Signals) -> bool:
    return (
        sig.cue("consumer_sale") >= CONSUMER_SALE_MIN and sig.cue("consumer_product") >= CONSUMER_PRODUCT_MIN
    )


def is_law(sig: Signals) -> bool:
    """The text of a law, a regulation or an order, or its promulgation."""
    title_hits, _ = sig.cues.get("law_title", (0, 0))
    return title_hits > 0 and (sig.cue("law_text") >= LAW_TEXT_MIN or len(sig.body) < 400)


def is_contest_call(sig: Signals) -> bool:
    """A contest, fair or roadshow named in the headline, and no 揭榜挂帅 list."""
    contest_t, _ = sig.cues.get("contest", (0, 0))
    need_t, _ = sig.cues.get("need", (0, 0))
    return contest_t >= CONTEST_TITLE_MIN and need_t == 0


def is_reported_study(sig: Signals, foreign: bool) -> bool:
    """A study reported in general news about somebody else's (a foreign team's) work."""
    return foreign and sig.cue("study_report") >= STUDY_MIN and sig.cue("own_result") <= OWN_RESULT_MAX


def apply_kind_rules(kind: str, relevant: bool, sig: Signals, *, foreign: bool) -> tuple[str, bool, str]:
    """The kind rules of the module docstring: the kind and relevance after them, and the rule that applied."""
    if is_law(sig):
        return "policy", True, "rule:law or regulation"
    if kind == "achievement" and is_consumer_launch(sig):
        return ("news" if relevant else "other"), relevant, "rule:consumer launch"
    if kind == "demand" and is_contest_call(sig):
        return "event", relevant, "rule:contest or fair"
    if kind == "achievement" and is_reported_study(sig, foreign):
        return "news", relevant, "rule:reported study"
    return kind, relevant, ""


def best_relevant_kind(post: Mapping[str, float]) -> tuple[str, float]:
    """The most probable of the kinds a relevant text can be, and its share among them."""
    total = sum(post.get(k, 0.0) for k in KINDS) or 1.0
    best = max(KINDS, key=lambda k: post.get(k, 0.0))
    return best, post.get(best, 0.0) / total
