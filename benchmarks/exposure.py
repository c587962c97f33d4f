"""Exposure checks on real photographs, their over- and under-exposed copies, and packshots.

The photographs are the real ones that pinned dependencies ship offline:
matplotlib's ``grace_hopper.jpg`` and scikit-learn's ``china.jpg`` and
``flower.jpg``. Three photos are few, so each also counts as four 70 % crops
(its corners): 15 originals, each a real photograph's pixels. Every original gets
copies with its brightness doubled and tripled (overexposed) and quartered and
divided by three (underexposed, two and ~1.6 stops). Then the demo catalog's
packshots (``training.demo.catalog.make_catalog``) are checked: none on a white
background may be flagged too light or too dark.

A defect counts as caught when any exposure check (brightness, highlights,
shadows, white point) fails; an original or a packshot is falsely flagged when
any of them fails. Pure core, no database.

    .venv/bin/python benchmarks/exposure.py [--packshots 500]
"""

from __future__ import annotations

import argparse
import sys
from io import BytesIO
from pathlib import Path

import matplotlib
import numpy as np
import sklearn.datasets
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from clipanalysis.quality import get_preset, run_quality_checks  # noqa: E402
from training.demo.catalog import make_catalog  # noqa: E402

EXPOSURE_CHECKS = ("brightness", "highlights", "shadows", "white_point")
PHOTOGRAPHS = {
    "grace_hopper (matplotlib)": Path(matplotlib.get_data_path()) / "sample_data/grace_hopper.jpg",
    "china (scikit-learn)": Path(sklearn.datasets.__file__).parent / "images/china.jpg",
    "flower (scikit-learn)": Path(sklearn.datasets.__file__).parent / "images/flower.jpg",
}
OVER = (2.0, 3.0)
UNDER = (0.25, 1 / 3)
CATALOG_SEED = 7


def originals() -> list[tuple[str, Image.Image]]:
    """Each photograph whole and its four 70 % corner crops."""
    found = []
    for name, path in PHOTOGRAPHS.items():
        photo = Image.open(path).convert("RGB")
        width, height = photo.size
        crop_w, crop_h = int(width * 0.7), int(height * 0.7)
        found.append((name, photo))
        for x, y in ((0, 0), (width - crop_w, 0), (0, height - crop_h)):
            found.append((f"{name} crop", photo.crop((x, y, x + crop_w, y + crop_h))))
        x, y = width - crop_w, height - crop_h
        found.append((f"{name} crop", photo.crop((x, y, x + crop_w, y + crop_h))))
    return found


def exposed(image: Image.Image, factor: float) -> Image.Image:
    pixels = np.asarray(image, dtype=np.float32) * factor
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


def exposure_failures(image: Image.Image, preset) -> list[str]:
    report = run_quality_checks(image, preset)
    return [
        check.name for check in report.checks if check.name in EXPOSURE_CHECKS and not check.passed
    ]


def is_white_background(background: tuple[int, int, int]) -> bool:
    return min(background) >= 244 and len(set(background)) == 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--packshots", type=int, default=500)
    parser.add_argument("--preset", default="general")
    args = parser.parse_args()
    preset = get_preset(args.preset)
    photos = originals()
    n = len(photos)

    print(
        f"Exposure checks, preset {preset.name!r}: {n} originals from {len(PHOTOGRAPHS)} "
        "real photographs (whole + 4 corner crops each)"
    )
    print(
        f"  limits: highlights <= {preset.max_clipped_highlights:.0%} blown, shadows <= "
        f"{preset.max_crushed_shadows:.0%} crushed, white point >= {preset.min_white_point}, "
        f"brightness {preset.min_brightness}-{preset.max_brightness}"
    )
    print(f"\n{'set':<28} {'flagged':>9}  by check")
    ok = True
    rows = [("originals", 1.0, "false")]
    rows += [(f"overexposed x{factor:g}", factor, "caught") for factor in OVER]
    rows += [(f"underexposed x{factor:.2g}", factor, "caught") for factor in UNDER]
    for label, factor, kind in rows:
        failures = [exposure_failures(exposed(photo, factor), preset) for _, photo in photos]
        flagged = sum(bool(found) for found in failures)
        by_check = {name: sum(name in found for found in failures) for name in EXPOSURE_CHECKS}
        detail = ", ".join(f"{name} {count}" for name, count in by_check.items() if count)
        print(f"{label:<28} {flagged:>4}/{n:<4}  {detail or '-'}")
        if kind == "false":
            ok &= flagged * 10 <= n
            missed = [name for (name, _), found in zip(photos, failures, strict=True) if found]
            if missed:
                print(f"{'':<28} falsely flagged: {'; '.join(missed)}")
        else:
            ok &= flagged * 10 >= 9 * n

    catalog = make_catalog(args.packshots, seed=CATALOG_SEED, mismatch_rate=0.0)
    white, other = [0, 0], [0, 0]
    for product in catalog:
        image = Image.open(BytesIO(product.image_bytes)).convert("RGB")
        flagged = bool(exposure_failures(image, preset))
        tally = white if is_white_background(product.spec.background) else other
        tally[0] += flagged
        tally[1] += 1
    print(f"{'demo packshots, white bg':<28} {white[0]:>4}/{white[1]:<4}")
    print(f"{'demo packshots, grey/tint bg':<28} {other[0]:>4}/{other[1]:<4}")
    ok &= white[0] == 0
    print(
        "\nTargets (>= 9/10 caught, <= 1/10 originals, no white packshot):",
        "met" if ok else "NOT met",
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
