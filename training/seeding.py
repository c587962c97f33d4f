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
from clipanalysis.models import AnalysisResult, Verdict
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
    corrected: int = 0  # judged by the reviewer's corrected text: a match now


def corrected_texts() -> set[tuple[int, str]]:
    """``(image id, text)`` for every description a reviewer wrote for that image."""
    return {
        (image_id, text.strip())
        for image_id, text in Verdict.objects.exclude(corrected_description="").values_list(
            "result__image_id", "corrected_description"
        )
    }


def detection_report() -> DetectionReport:
    """How well the current results separate the deliberately mismatched products.

    The truth of a result is its product's ``SyntheticTruth``, except where a
    reviewer corrected the description: a result scoring the reviewer's text for
    that image is judged a match (the text now says what the image shows), so a
    fine-tune that learnt from corrections is not counted as missing them.
    """
    results = AnalysisResult.objects.current().filter(image__product__synthetic_truth__isnull=False)
    done = results.done().values_list(
        "image_id",
        "description",
        "similarity_score",
        "is_match",
        "image__product__synthetic_truth__is_mismatch",
    )
    fixed = corrected_texts()
    rows, corrected = [], 0
    for image_id, text, score, is_match, is_mismatch in done:
        if is_mismatch and (image_id, text.strip()) in fixed:
            is_mismatch = False
            corrected += 1
        rows.append((score, is_match, is_mismatch))
    pending = results.exclude(status=AnalysisResult.Status.DONE).count()
    if not rows:
        return DetectionReport(0, pending, None, 0.0, 0.0, 0.0)
    table = np.array(rows, dtype=float)
    truth, flagged = table[:, 2].astype(bool), ~table[:, 1].astype(bool)
    auc = roc_auc_score(truth, -table[:, 0]) if 0 < truth.sum() < len(truth) else None
    precision, recall, f1, _ = precision_recall_fscore_support(
        truth, flagged, average="binary", zero_division=0
    )
    return DetectionReport(
        len(rows), pending, auc, float(precision), float(recall), float(f1), corrected
    )
