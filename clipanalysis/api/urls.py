from django.urls import path
from rest_framework.routers import SimpleRouter

from clipanalysis.api.views.analyses import AnalysisResultViewSet
from clipanalysis.api.views.catalog import ProductImageViewSet, ProductViewSet
from clipanalysis.api.views.model_versions import ModelVersionViewSet
from clipanalysis.api.views.review import ReviewItemViewSet, VerdictViewSet
from clipanalysis.api.views.scoring import BatchScoreView

router = SimpleRouter()
router.register("products", ProductViewSet)
router.register("images", ProductImageViewSet)
router.register("analyses", AnalysisResultViewSet)
router.register("review-items", ReviewItemViewSet)
router.register("verdicts", VerdictViewSet)
router.register("models", ModelVersionViewSet)

urlpatterns = [
    *router.urls,
    path("batch-score/", BatchScoreView.as_view(), name="batch-score"),
]
