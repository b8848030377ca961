"""Routing into the libraries: problem (问题库), project (项目库) and talent (人才库) entries of a document.

* :mod:`.router` — :func:`route`, :func:`route_article`, :class:`RoutePipeline`, entry ids;
* :mod:`.talents` — the persons a text presents as scientists, engineers or experts;
* :mod:`.entries` — the fields of problem and project entries;
* :mod:`.lexicon` — the people word lists (``pipelines/data/people.yaml``).
"""

from pipelines.route.entries import key_numbers
from pipelines.route.lexicon import People, load_people
from pipelines.route.router import (
    LIBRARIES,
    RoutePipeline,
    normalize_affiliation,
    route,
    route_article,
    stable_id,
    talent_id,
    talents_of,
)
from pipelines.route.talents import Talent, extract_talents

__all__ = [
    "LIBRARIES",
    "People",
    "RoutePipeline",
    "Talent",
    "extract_talents",
    "key_numbers",
    "load_people",
    "normalize_affiliation",
    "route",
    "route_article",
    "stable_id",
    "talent_id",
    "talents_of",
]
