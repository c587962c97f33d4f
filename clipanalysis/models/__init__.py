"""The scorer's models: model versions, results and embeddings, review queue, vocabularies."""

from clipanalysis.models.analyses import AnalysisResult, ImageEmbedding
from clipanalysis.models.model_versions import ModelActivation, ModelVersion
from clipanalysis.models.review_queue import ReviewItem, Verdict, VerdictChange
from clipanalysis.models.vocabularies import AttributeFamily, AttributeTerm

__all__ = [
    "AnalysisResult",
    "AttributeFamily",
    "AttributeTerm",
    "ImageEmbedding",
    "ModelActivation",
    "ModelVersion",
    "ReviewItem",
    "Verdict",
    "VerdictChange",
]
