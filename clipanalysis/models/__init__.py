"""The scorer's models: model versions, analysis results and embeddings, the review queue."""

from clipanalysis.models.analyses import AnalysisResult, ImageEmbedding
from clipanalysis.models.model_versions import ModelActivation, ModelVersion
from clipanalysis.models.review_queue import ReviewItem, Verdict

__all__ = [
    "AnalysisResult",
    "ImageEmbedding",
    "ModelActivation",
    "ModelVersion",
    "ReviewItem",
    "Verdict",
]
