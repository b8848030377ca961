"""The story-term functions of the dedup stage under their former module name; they live in
:mod:`pipelines.dedup.story`."""

from pipelines.dedup.rules import DAY_IDF, LEAD_CHARS, MIN_IDF, QUOTED_IDF, QUOTED_SCAN
from pipelines.dedup.story import (
    day_mentions,
    is_day_term,
    quoted_names,
    quoted_names_many,
    segment_many,
    segment_words,
    story_terms,
    story_terms_many,
)

__all__ = [
    "DAY_IDF",
    "LEAD_CHARS",
    "MIN_IDF",
    "QUOTED_IDF",
    "QUOTED_SCAN",
    "day_mentions",
    "is_day_term",
    "quoted_names",
    "quoted_names_many",
    "segment_many",
    "segment_words",
    "story_terms",
    "story_terms_many",
]
