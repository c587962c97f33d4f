"""Fill the database with the synthetic catalog, through the normal save path.

Products are created exactly as the admin or the API would (so analysis is
enqueued after commit), and each gets a ``SyntheticTruth`` row recording
whether its image was mismatched on purpose, so detection can be measured.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from django.core.files.base import ContentFile
from django.db import transaction
from sklearn.metrics import precision_recall_fscore_support, roc_auc_score
from tqdm.auto import tqdm

from catalog.models import Product, ProductImage
from clipanalysis.models import AnalysisResult
from training.demo.catalog import make_catalog
from training.models import SyntheticTruth


@dataclass
class SeedSummary:
    created: int
    skipped: int
    mismatched: int


def seed_catalog(
    n: int, *, mismatch_rate: float = 0.2, seed: int = 0, progress: bool = False
) -> SeedSummary:
    """Create ``n`` synthetic products (one image each); existing SKUs are left alone.

    ``progress`` shows a tqdm bar on stderr (the command's one line per run is the summary).
    """
    created = skipped = mismatched = 0
    items = make_catalog(n, seed=seed, mismatch_rate=mismatch_rate)
    for item in tqdm(items, total=n, desc="seeding", unit="product", disable=not progress):
        if Product.objects.filter(sku=item.sku).exists():
            skipped += 1
            continue
        with transaction.atomic():
            product = Product.objects.create(
                sku=item.sku, title=item.title, description=item.description, category=item.category
            )
            ProductImage(product=product).image.save(
                f"{item.sku}.jpg", ContentFile(item.image_bytes), save=True
            )
            SyntheticTruth.objects.create(
                product=product,
                is_mismatch=item.is_mismatch,
                mismatch_type=item.mismatch_type or "",
                attributes=asdict(item.spec),
            )
        created += 1
        mismatched += int(item.is_mismatch)
    return SeedSummary(created=created, skipped=skipped, mismatched=mismatched)


@dataclass
class DetectionReport:
    scored: int
    pending: int
    roc_auc: float | None
    precision: float
    recall: float
    f1: float


def detection_report() -> DetectionReport:
    """How well the current results separate the deliberately mismatched products."""
    results = AnalysisResult.objects.current().filter(image__product__synthetic_truth__isnull=False)
    done = results.done().values_list(
        "similarity_score", "is_match", "image__product__synthetic_truth__is_mismatch"
    )
    rows = np.array([(score, flagged, truth) for score, flagged, truth in done], dtype=float)
    pending = results.exclude(status=AnalysisResult.Status.DONE).count()
    if len(rows) == 0:
        return DetectionReport(0, pending, None, 0.0, 0.0, 0.0)
    truth, flagged = rows[:, 2].astype(bool), ~rows[:, 1].astype(bool)
    auc = roc_auc_score(truth, -rows[:, 0]) if 0 < truth.sum() < len(truth) else None
    precision, recall, f1, _ = precision_recall_fscore_support(
        truth, flagged, average="binary", zero_division=0
    )
    return DetectionReport(len(rows), pending, auc, float(precision), float(recall), float(f1))
