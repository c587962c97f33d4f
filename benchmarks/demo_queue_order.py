"""Issue 13's queue order with a full-size model: real problems among the first queued items.

``tests/training/test_demo_queue_order.py`` checks the target (>= 16 of the first 20
queued items are real problems) with a reduced demo build; this measures the same on
the model an operator serves (by default the demo model at ``DEMO_MODEL_DIR``):

1. a throw-away SQLite database and media folder; ``--model`` registered and activated;
2. ``--products`` demo products seeded with ``--seed`` (``seed_demo_catalog``'s
   catalog: the same products, images and synthetic ground truth) through the normal
   save path, analysis inline, review items opened as in production;
3. for the default ("problems") and the "uncertain" order: real problems among the
   first 20 and 40 queued items, and among all of them. A real problem is what the
   test counts: a deliberate mismatch by the synthetic truth, or a measured (not
   guessed) quality failure.

The counts depend on the model, seed and settings only, not on the machine's load. Run:

    DEBUG=1 .venv/bin/python benchmarks/demo_queue_order.py [--model DIR]
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CUTS = (20, 40)
TARGET_FIRST_20 = 16  # 80 %, the target


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=None, help="Default: DEMO_MODEL_DIR.")
    parser.add_argument("--products", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1, help="Torch threads (shared cores).")
    parser.add_argument("--workdir", type=Path, default=None, help="Kept; default: a temp dir.")
    return parser.parse_args()


def configure_environment(workdir: Path, threads: int) -> None:
    """A private database and media root; analysis inline; review settings as shipped."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("DEBUG", "1")
    os.environ["SQLITE_PATH"] = str(workdir / "db.sqlite3")
    os.environ["MEDIA_ROOT"] = str(workdir / "media")
    os.environ["Q_SYNC"] = "1"
    os.environ["CLIP_EXPLAIN"] = "0"  # not what is measured (as in the test); saves time
    os.environ["CLIP_DEVICE"] = "cpu"
    os.environ["CLIP_TORCH_THREADS"] = str(threads)
    os.environ.pop("DATABASE_URL", None)
    os.environ.pop("REDIS_URL", None)
    os.environ.pop("REVIEW_QUEUE_ORDER", None)


def main() -> int:
    args = parse_args()
    keep = args.workdir is not None
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="demo-queue-order-"))
    workdir.mkdir(parents=True, exist_ok=True)
    configure_environment(workdir, args.threads)

    # Imported only now: settings read the environment configured above.
    import django

    django.setup()
    logging.getLogger("django-q").setLevel(logging.WARNING)  # Q_SYNC's per-task lines

    import torch
    from django.conf import settings
    from django.core.management import call_command

    from clipanalysis.models import ReviewItem
    from clipanalysis.registry import activate, register_model
    from clipanalysis.review import GUESSED_QUALITY_FAILURES, review_queue
    from training.seeding import seed_catalog

    torch.set_num_threads(args.threads)
    model_dir = (args.model or Path(settings.DEMO_MODEL_DIR)).resolve()
    if not (model_dir / "config.json").is_file():
        print(f"No model at {model_dir}: run `manage.py build_demo_model` first.", flush=True)
        return 2
    try:
        call_command("migrate", interactive=False, verbosity=0)
        activate(register_model(model_dir))
        started = time.monotonic()
        summary = seed_catalog(args.products, seed=args.seed, progress=True)
        seconds = time.monotonic() - started

        def is_real_problem(item: ReviewItem) -> bool:
            failures = set(item.result.quality_failures or []) - GUESSED_QUALITY_FAILURES
            return item.image.product.synthetic_truth.is_mismatch or bool(failures)

        print(
            f"\nModel {model_dir}; {summary.created} products (seed {args.seed}, "
            f"{summary.mismatched} deliberate mismatches) seeded and scored in {seconds:.0f} s."
        )
        print(f"{'order':<10} {'queued':>6} " + " ".join(f"{f'first {n}':>8}" for n in CUTS))
        first_20 = {}
        for order in ("problems", "uncertain"):
            items = list(
                review_queue(order=order).select_related(
                    "result", "image__product__synthetic_truth"
                )
            )
            real = [is_real_problem(item) for item in items]
            cells = " ".join(f"{sum(real[:n]):>4}/{min(n, len(real)):<3}" for n in CUTS)
            share = sum(real) / len(real) if real else 0.0
            print(
                f"{order:<10} {len(items):>6} {cells}   real problems among all queued: "
                f"{sum(real)}/{len(real)} ({share:.0%})"
            )
            first_20[order] = sum(real[:20])
        met = first_20["problems"] >= TARGET_FIRST_20
        print(
            f"Target >= {TARGET_FIRST_20} of the first 20 in the default order: "
            f"{'met' if met else 'MISSED'} ({first_20['problems']})."
        )
        return 0 if met else 1
    finally:
        if not keep:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
