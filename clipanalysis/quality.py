"""Classic image-quality checks. Pure core: PIL images and numpy in, dataclasses out.

Each check yields a number and a pass/fail against a preset. Lessons from
CleanVision's misses are built in:

* blur is measured on a 512-px greyscale copy — on a 64-px thumbnail every
  image looks sharp;
* exposure is judged on the product, not the background, so a compliant
  packshot on pure white is not "too light";
* near-duplicates use a Hamming-distance tolerance on perceptual hashes, not
  identical hashes only (see ``near_duplicates``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field

import cv2
import imagehash
import numpy as np
from PIL import Image

BLUR_ANALYSIS_SIDE = 512
# Pixels this far (0-255, max over channels) from the border colour are product.
FOREGROUND_TOLERANCE = 30
MIN_FOREGROUND_FRACTION = 0.02


@dataclass(frozen=True)
class QualityPreset:
    """Thresholds for one publishing context; every default says why."""

    name: str
    # Smallest side in px. 500 px is the common minimum for a listing to show well.
    min_side: int = 500
    # Variance of the Laplacian on the 512-px greyscale copy. Sharp packshots
    # score in the hundreds to thousands; a visibly soft photo falls below 100.
    min_blur: float = 100.0
    # Mean luminance of the product itself (not the background).
    min_brightness: float = 40.0
    max_brightness: float = 235.0
    # Std of luminance over the whole image: near-flat images carry no product.
    min_contrast: float = 15.0
    # Long side / short side; beyond 3:1 thumbnails crop the product away.
    max_aspect_ratio: float = 3.0
    # Greyscale photos are legal but usually a wrong or placeholder image.
    grayscale_blocks: bool = False
    # Marketplace packshots must sit on pure white (RGB 255,255,255 ± 10).
    require_white_background: bool = False
    near_duplicate_max_distance: int = 6
    blocking: tuple[str, ...] = ("resolution", "blur", "brightness", "contrast", "aspect_ratio")


PRESETS: dict[str, QualityPreset] = {
    "general": QualityPreset(name="general"),
    # Amazon-style main-image rules: 1000 px minimum side so zoom works,
    # pure-white background, product filling the frame.
    "marketplace": QualityPreset(
        name="marketplace",
        min_side=1000,
        max_aspect_ratio=2.0,
        require_white_background=True,
        blocking=("resolution", "blur", "brightness", "contrast", "aspect_ratio", "background"),
    ),
}


def get_preset(name: str) -> QualityPreset:
    try:
        return PRESETS[name]
    except KeyError as error:
        raise ValueError(
            f"Unknown quality preset {name!r}; choose from {sorted(PRESETS)}"
        ) from error


@dataclass(frozen=True)
class CheckResult:
    name: str
    value: float
    passed: bool
    limit: str
    blocking: bool


@dataclass
class QualityReport:
    preset: str
    checks: list[CheckResult] = field(default_factory=list)
    perceptual_hash: str = ""

    @property
    def passed(self) -> bool:
        return all(check.passed for check in self.checks if check.blocking)

    @property
    def failures(self) -> list[str]:
        return [check.name for check in self.checks if check.blocking and not check.passed]

    def value(self, name: str) -> float | None:
        return next((check.value for check in self.checks if check.name == name), None)

    def summary_fields(self) -> dict:
        """The headline numbers, named as ``AnalysisResult`` and the API name them."""
        grayscale = next((c for c in self.checks if c.name == "grayscale"), None)
        return {
            "quality_passed": self.passed,
            "quality_failures": self.failures,
            "min_side": int(self.value("resolution") or 0),
            "blur_score": self.value("blur"),
            "brightness_score": self.value("brightness"),
            "contrast_score": self.value("contrast"),
            "aspect_ratio": self.value("aspect_ratio"),
            "is_grayscale": grayscale is not None and not grayscale.passed,
        }

    def as_dict(self) -> dict:
        return {
            "preset": self.preset,
            "passed": self.passed,
            "failures": self.failures,
            "perceptual_hash": self.perceptual_hash,
            "checks": [asdict(check) for check in self.checks],
        }


def luminance(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("L"), dtype=np.float32)


def blur_score(image: Image.Image) -> float:
    """Variance of the Laplacian on a fixed 512-px greyscale copy (higher = sharper)."""
    grey = image.convert("L")
    scale = BLUR_ANALYSIS_SIDE / max(grey.size)
    if scale < 1:
        grey = grey.resize(
            (max(1, round(grey.width * scale)), max(1, round(grey.height * scale))),
            Image.Resampling.BILINEAR,
        )
    return float(cv2.Laplacian(np.asarray(grey, dtype=np.uint8), cv2.CV_64F).var())


def border_pixels(pixels: np.ndarray) -> np.ndarray:
    """The outermost 2% band of an (h, w, 3) array, as (n, 3): the backdrop of a packshot."""
    height, width = pixels.shape[:2]
    band = max(1, min(height, width) // 50)
    return np.concatenate(
        [
            pixels[:band].reshape(-1, 3),
            pixels[-band:].reshape(-1, 3),
            pixels[:, :band].reshape(-1, 3),
            pixels[:, -band:].reshape(-1, 3),
        ]
    )


def thumbnail_pixels(image: Image.Image, side: int = 256) -> np.ndarray:
    small = image.convert("RGB")
    small.thumbnail((side, side))
    return np.asarray(small)


def product_mask(pixels: np.ndarray) -> np.ndarray:
    """Pixels that differ from the backdrop; the whole image when nothing does."""
    backdrop = np.median(border_pixels(pixels), axis=0)
    distance = np.abs(pixels.astype(np.int16) - backdrop).max(axis=-1)
    mask = distance > FOREGROUND_TOLERANCE
    if mask.mean() < MIN_FOREGROUND_FRACTION:
        return np.ones(mask.shape, dtype=bool)
    return mask


def product_brightness(image: Image.Image) -> float:
    """Mean luminance of the product region (0-255)."""
    pixels = thumbnail_pixels(image)
    grey = np.asarray(Image.fromarray(pixels).convert("L"), dtype=np.float32)
    return float(grey[product_mask(pixels)].mean())


def white_background_fraction(image: Image.Image) -> float:
    """Share of border pixels that are pure white (every channel >= 245)."""
    return float((border_pixels(thumbnail_pixels(image)).min(axis=-1) >= 245).mean())


def grayscale_score(image: Image.Image) -> float:
    """Mean spread between colour channels; ~0 for a greyscale image."""
    pixels = thumbnail_pixels(image, 128).astype(np.float32)
    return float((pixels.max(axis=-1) - pixels.min(axis=-1)).mean())


def perceptual_hash(image: Image.Image) -> str:
    return str(imagehash.phash(image))


def hash_distance(first: str, second: str) -> int:
    return imagehash.hex_to_hash(first) - imagehash.hex_to_hash(second)


def near_duplicates(
    phash: str, candidates: Iterable[tuple[int, str]], max_distance: int
) -> list[tuple[int, int]]:
    """``(id, distance)`` of candidates within ``max_distance`` bits, closest first."""
    found = []
    for candidate_id, candidate_hash in candidates:
        if not candidate_hash:
            continue
        distance = hash_distance(phash, candidate_hash)
        if distance <= max_distance:
            found.append((candidate_id, distance))
    return sorted(found, key=lambda pair: pair[1])


def run_quality_checks(image: Image.Image, preset: QualityPreset) -> QualityReport:
    """Run every check on an RGB image; duplicates are judged by the caller with the hash."""
    width, height = image.size
    blocking = set(preset.blocking)
    report = QualityReport(preset=preset.name, perceptual_hash=perceptual_hash(image))

    def add(name: str, value: float, passed: bool, limit: str) -> None:
        report.checks.append(
            CheckResult(name, round(float(value), 4), bool(passed), limit, name in blocking)
        )

    min_side = min(width, height)
    add("resolution", min_side, min_side >= preset.min_side, f">= {preset.min_side} px")
    blur = blur_score(image)
    add("blur", blur, blur >= preset.min_blur, f">= {preset.min_blur}")
    brightness = product_brightness(image)
    add(
        "brightness",
        brightness,
        preset.min_brightness <= brightness <= preset.max_brightness,
        f"{preset.min_brightness}-{preset.max_brightness}",
    )
    contrast = float(luminance(image).std())
    add("contrast", contrast, contrast >= preset.min_contrast, f">= {preset.min_contrast}")
    aspect = max(width, height) / max(1, min(width, height))
    add("aspect_ratio", aspect, aspect <= preset.max_aspect_ratio, f"<= {preset.max_aspect_ratio}")
    colourfulness = grayscale_score(image)
    is_grey = colourfulness < 3.0
    if preset.grayscale_blocks:
        blocking.add("grayscale")
    add("grayscale", colourfulness, not is_grey, ">= 3 (colour spread)")
    if preset.require_white_background:
        white = white_background_fraction(image)
        add("background", white, white >= 0.9, ">= 90% of border pure white")
    return report
