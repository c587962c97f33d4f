"""What the analyses say about a product, as SQL annotations the API and admin share.

A product's analysis ``status`` comes from its images' current results, in this
order of precedence: ``no_images``; ``pending`` (an image whose current result
has not finished, or has none yet); ``failed``; ``flagged`` (a finished result
that mismatches or fails a blocking quality check); ``passed``.
``with_analysis_status`` computes it once, in SQL, for the field and the filter.
"""

from __future__ import annotations

from django.db.models import Case, Exists, OuterRef, Q, QuerySet, Value, When

from catalog.models import ProductImage
from clipanalysis.models import AnalysisResult, ReviewItem

Status = AnalysisResult.Status
FINISHED = (Status.DONE, Status.FAILED)


class ProductAnalysisStatus:
    NO_IMAGES = "no_images"
    PENDING = "pending"
    FAILED = "failed"
    FLAGGED = "flagged"
    PASSED = "passed"
    CHOICES = [
        (NO_IMAGES, "No images yet"),
        (PENDING, "Analysis pending or running"),
        (FAILED, "An analysis failed"),
        (FLAGGED, "Mismatch or failed quality check"),
        (PASSED, "Every image matches and passes quality"),
    ]


def analysis_status() -> Case:
    """The status expression for a product queryset (see the module docstring)."""
    images = ProductImage.objects.filter(product=OuterRef("pk"))
    finished_current = AnalysisResult.objects.filter(
        image=OuterRef("pk"), is_current=True, status__in=FINISHED
    )
    current = AnalysisResult.objects.current().filter(image__product=OuterRef("pk"))
    return Case(
        When(~Exists(images), then=Value(ProductAnalysisStatus.NO_IMAGES)),
        When(
            Exists(images.filter(~Exists(finished_current))),
            then=Value(ProductAnalysisStatus.PENDING),
        ),
        When(
            Exists(current.filter(status=Status.FAILED)), then=Value(ProductAnalysisStatus.FAILED)
        ),
        When(Exists(current.flagged()), then=Value(ProductAnalysisStatus.FLAGGED)),
        default=Value(ProductAnalysisStatus.PASSED),
    )


def open_review_exists() -> Exists:
    return Exists(ReviewItem.objects.open().filter(image__product=OuterRef("pk")))


def with_analysis_status(products: QuerySet) -> QuerySet:
    """Products annotated with ``analysis_status`` and ``has_open_review``."""
    return products.annotate(
        analysis_status=analysis_status(), has_open_review=open_review_exists()
    )


def score_in_range(prefix: str, low: float | None, high: float | None) -> Q:
    """Products (``prefix`` "image__product") or images with a current result scored in range."""
    results = AnalysisResult.objects.current().filter(**{prefix: OuterRef("pk")})
    if low is not None:
        results = results.filter(similarity_score__gte=low)
    if high is not None:
        results = results.filter(similarity_score__lte=high)
    return Q(Exists(results))
