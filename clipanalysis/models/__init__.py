"""The scorer's models: model versions, analysis results and embeddings, the review queue."""

from clipanalysis.models.analyses import AnalysisResult, ImageEmbedding
from clipanalysis.models.model_versions import ModelVersion
from clipanalysis.models.review_queue import ReviewItem, Verdict, VerdictChange

__all__ = [
    "AnalysisResult",
    "ImageEmbedding",
    "ModelVersion",
    "ReviewItem",
    "Verdict",
    "VerdictChange",
]
