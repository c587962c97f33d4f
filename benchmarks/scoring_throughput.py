"""Scoring throughput on this CPU: quality checks and CLIP, fp32 vs bf16.

Uses a CLIP with the exact shape of openai/clip-vit-base-patch32 (random
weights: speed does not depend on the values; the hub is not reachable here)
and, when built, the offline demo model. Prints a table for the README.

    .venv/bin/python benchmarks/scoring_throughput.py [--images 64]
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("SECRET_KEY", "benchmark")

import django  # noqa: E402

django.setup()

import torch  # noqa: E402
from django.conf import settings  # noqa: E402
from random_clip import vit_b32_shaped  # noqa: E402  (benchmarks/, the script's folder)

from catalog.imaging import decode_image  # noqa: E402
from clipanalysis.clip_service import ClipService, cpu_supports_bf16  # noqa: E402
from clipanalysis.quality import get_preset, run_quality_checks  # noqa: E402
from training.demo.catalog import make_catalog  # noqa: E402


def timed(function, repeat: int = 2) -> float:
    function()  # warm-up
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=64)
    args = parser.parse_args()
    torch.set_num_threads(os.cpu_count() or 1)
    products = make_catalog(args.images, seed=123, mismatch_rate=0.0)
    images = [decode_image(item.image_bytes).image for item in products]
    texts = [item.description for item in products]
    preset = get_preset("general")

    rows = []
    seconds = timed(lambda: [run_quality_checks(image, preset) for image in images], repeat=1)
    rows.append(("quality checks (all, per image)", "-", len(images) / seconds))

    with tempfile.TemporaryDirectory() as tmp:
        models = {"ViT-B/32 shape": vit_b32_shaped(Path(tmp) / "vit-b32")}
        if (Path(settings.DEMO_MODEL_DIR) / "config.json").is_file():
            models["demo model"] = Path(settings.DEMO_MODEL_DIR)
        dtypes = ["float32"] + (["bfloat16"] if cpu_supports_bf16() else [])
        for label, path in models.items():
            for dtype in dtypes:
                service = ClipService.load(path, device="cpu", dtype=dtype, batch_size=32)
                seconds = timed(lambda s=service: s.image_embeddings(images))
                rows.append((f"{label}: image embeddings", dtype, len(images) / seconds))

                def texts_uncached(s=service):
                    s._text_cache.clear()
                    s.text_embeddings(texts)

                seconds = timed(texts_uncached)
                rows.append((f"{label}: text embeddings", dtype, len(texts) / seconds))

    print(f"\nCPU threads: {torch.get_num_threads()}, bf16 fast path: {cpu_supports_bf16()}")
    print(f"{'what':44} {'dtype':9} {'items/s':>9}")
    for what, dtype, rate in rows:
        print(f"{what:44} {dtype:9} {rate:9.1f}")
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS: {peak_mb:.0f} MB")


if __name__ == "__main__":
    main()
