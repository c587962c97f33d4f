from django.urls import path
from rest_framework.routers import SimpleRouter

from clipanalysis.api.scoring import BatchScoreView
from clipanalysis.api.views import AnalysisResultViewSet, ReviewItemViewSet, VerdictViewSet

router = SimpleRouter()
router.register("analyses", AnalysisResultViewSet)
router.register("review-items", ReviewItemViewSet)
router.register("verdicts", VerdictViewSet)

urlpatterns = [
    *router.urls,
    path("batch-score/", BatchScoreView.as_view(), name="batch-score"),
]
