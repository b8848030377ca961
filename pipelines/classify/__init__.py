"""Classification: content type, sci-tech relevance, tech domains and region, with the evidence for each.

Runtime modules (inference needs numpy only):

* :mod:`.classifier` — :func:`classify`, the pure function over one document;
* :mod:`.region` — the region a document is about;
* :mod:`.model` and :mod:`.linear` — the learned heads and the model file;
* :mod:`.result` — :class:`Classification` and :class:`Label`;
* :mod:`.pipeline` — :func:`classify_article`, :class:`ClassifyPipeline`, :func:`classify_record`.

Training lives apart in :mod:`.train` (scikit-learn, build time).
"""

from pipelines.classify.classifier import MAX_CHARS, classify
from pipelines.classify.linear import LinearHead
from pipelines.classify.model import (
    MODEL_FILE_NAME,
    SHIPPED_MODEL,
    Model,
    NBHead,
    char_features,
    load_model,
    model_for,
)
from pipelines.classify.pipeline import ClassifyPipeline, classify_article, classify_record
from pipelines.classify.region import normalize_region, region_from_host
from pipelines.classify.result import Classification, Label
from pipelines.terms import TermCounter, terms_in_mention_order

__all__ = [
    "MAX_CHARS",
    "MODEL_FILE_NAME",
    "SHIPPED_MODEL",
    "Classification",
    "ClassifyPipeline",
    "Label",
    "LinearHead",
    "Model",
    "NBHead",
    "TermCounter",
    "char_features",
    "classify",
    "classify_article",
    "classify_record",
    "load_model",
    "model_for",
    "normalize_region",
    "region_from_host",
    "terms_in_mention_order",
]
