"""Issue 13 on the seeded demo catalog: the default queue order serves real problems first.

A reduced demo build (the real build, fewer packshots and epochs) scores a catalog seeded
with a fixed seed through the real pipeline; its synthetic ground truth says which queued
items are real problems: a deliberate mismatch or a measured blocking quality failure.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from clipanalysis.clip_service import clear_clip_services
from clipanalysis.models import ReviewItem
from clipanalysis.review import GUESSED_QUALITY_FAILURES, review_queue
from training.demo.build import DemoArchitecture, DemoBuildConfig, build_demo_model
from training.seeding import seed_catalog

pytestmark = [pytest.mark.django_db, pytest.mark.slow]
PRODUCTS = 200
FIRST = 20
MIN_PROBLEMS = 16  # 80 % of the first 20

# Small enough to train in about a minute on one thread, good enough to rank.
QUEUE_ARCHITECTURE = DemoArchitecture(
    image_size=32,
    patch_size=8,
    hidden_size=64,
    intermediate_size=256,
    vision_layers=2,
    text_layers=1,
    attention_heads=2,
    projection_dim=64,
)
QUEUE_BUILD = DemoBuildConfig(
    seed=0,
    epochs=6,
    n_train=2048,
    batch_size=128,
    learning_rate=3e-3,
    n_heldout=400,
    render_size=64,
    architecture=QUEUE_ARCHITECTURE,
    workers=1,
    threads=1,
    bf16=False,
)


@pytest.fixture(scope="module")
def demo_model_dir(tmp_path_factory) -> Path:
    return build_demo_model(
        tmp_path_factory.mktemp("queue-demo") / "demo-clip", config=QUEUE_BUILD, progress=False
    ).output_dir


def is_real_problem(item: ReviewItem) -> bool:
    """A deliberate mismatch by the synthetic truth, or a measured quality failure."""
    failures = set(item.result.quality_failures or []) - GUESSED_QUALITY_FAILURES
    return item.image.product.synthetic_truth.is_mismatch or bool(failures)


def real_problems_first(order: str | None) -> int:
    items = review_queue(order=order).select_related("result", "image__product__synthetic_truth")[
        :FIRST
    ]
    return sum(is_real_problem(item) for item in items)


@pytest.fixture
def seeded_queue(demo_model_dir, settings, django_capture_on_commit_callbacks):
    settings.CLIP_MODEL_NAME = str(demo_model_dir)
    settings.CLIP_EXPLAIN = False  # not what is measured here; saves time
    clear_clip_services()
    with django_capture_on_commit_callbacks(execute=True):
        seed_catalog(PRODUCTS, seed=0)
    yield
    clear_clip_services()


def test_default_order_puts_real_problems_first(seeded_queue, settings):
    queued = ReviewItem.objects.open().count()
    problems = real_problems_first(None)
    uncertain = real_problems_first("uncertain")
    print(
        f"queued {queued}; real problems in the first {FIRST}: {problems} (problems order), "
        f"{uncertain} (uncertain order)"
    )
    assert settings.REVIEW_QUEUE_ORDER == "problems"
    assert queued > FIRST
    assert problems >= MIN_PROBLEMS
    assert uncertain < problems
