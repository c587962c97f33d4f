"""Classic image-quality checks. Pure core: PIL images and numpy in, dataclasses out.

Each check yields a number and a pass/fail against a preset. Lessons from
CleanVision's misses are built in:

* blur is measured on a 512-px greyscale copy — on a 64-px thumbnail every
  image looks sharp;
* exposure is judged on the product, not the background, so a compliant
  packshot on pure white is not "too light";
* near-duplicates use a Hamming-distance tolerance on perceptual hashes, not
  identical hashes only (see ``near_duplicates``).

Every check is declared once, in ``QUALITY_CHECKS``: its name, what a failure
means to a person, how it is measured, and the ``AnalysisResult`` column (and
API field) that keeps its number. Result fields, API fields, labels and admin
columns are all derived from that table.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field

import cv2
import imagehash
import numpy as np
from PIL import Image

BLUR_ANALYSIS_SIDE = 512
# The largest side any check looks at: an image is decoded no larger than it needs to be
# for this (and the model's input), see ``catalog.imaging.decode_image(working_side=…)``.
WORKING_SIDE = BLUR_ANALYSIS_SIDE
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
        found = self.check(name)
        return found.value if found is not None else None

    def check(self, name: str) -> CheckResult | None:
        return next((check for check in self.checks if check.name == name), None)

    def summary_fields(self) -> dict:
        """The headline numbers, named as ``AnalysisResult`` and the API name them."""
        fields = {"quality_passed": self.passed, "quality_failures": self.failures}
        for declared in QUALITY_CHECKS:
            if declared.field:
                fields[declared.field] = declared.column_value(self.check(declared.name))
        return fields

    @classmethod
    def from_dict(cls, stored: dict) -> QualityReport | None:
        """The report ``as_dict`` wrote; None for one kept in another shape (measure again).

        The ``duplicate`` check is left out: it depends on the other images, not on
        these bytes, and is looked up again."""
        try:
            checks = [
                CheckResult(
                    name=str(check["name"]),
                    value=float(check["value"]),
                    passed=bool(check["passed"]),
                    limit=str(check["limit"]),
                    blocking=bool(check["blocking"]),
                )
                for check in stored["checks"]
                if check["name"] != "duplicate"
            ]
            return cls(
                preset=str(stored["preset"]),
                checks=checks,
                perceptual_hash=str(stored["perceptual_hash"]),
            )
        except (KeyError, TypeError, ValueError):
            return None

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


# --- the checks ---------------------------------------------------------------------
# A measure takes the RGB image (perhaps decoded reduced: each measure works at its own
# size), the preset and the file's own (width, height), and returns (value, passed,
# limit text), or None when the check does not apply under this preset.
Measurement = tuple[float, bool, str] | None
Size = tuple[int, int]


def _resolution(image: Image.Image, preset: QualityPreset, size: Size) -> Measurement:
    side = min(size)
    return side, side >= preset.min_side, f">= {preset.min_side} px"


def _blur(image: Image.Image, preset: QualityPreset, size: Size) -> Measurement:
    blur = blur_score(image)
    return blur, blur >= preset.min_blur, f">= {preset.min_blur}"


def _brightness(image: Image.Image, preset: QualityPreset, size: Size) -> Measurement:
    brightness = product_brightness(image)
    passed = preset.min_brightness <= brightness <= preset.max_brightness
    return brightness, passed, f"{preset.min_brightness}-{preset.max_brightness}"


def _contrast(image: Image.Image, preset: QualityPreset, size: Size) -> Measurement:
    contrast = float(luminance(image).std())
    return contrast, contrast >= preset.min_contrast, f">= {preset.min_contrast}"


def _aspect_ratio(image: Image.Image, preset: QualityPreset, size: Size) -> Measurement:
    width, height = size
    aspect = max(width, height) / max(1, min(width, height))
    return aspect, aspect <= preset.max_aspect_ratio, f"<= {preset.max_aspect_ratio}"


def _grayscale(image: Image.Image, preset: QualityPreset, size: Size) -> Measurement:
    colourfulness = grayscale_score(image)
    return colourfulness, colourfulness >= 3.0, ">= 3 (colour spread)"


def _background(image: Image.Image, preset: QualityPreset, size: Size) -> Measurement:
    if not preset.require_white_background:
        return None
    white = white_background_fraction(image)
    return white, white >= 0.9, ">= 90% of border pure white"


@dataclass(frozen=True)
class QualityCheck:
    """One check: what it is called, what a failure means, how it is measured, where
    its number is kept (``field``: an ``AnalysisResult`` column and API field)."""

    name: str
    label: str
    measure: Callable[[Image.Image, QualityPreset, Size], Measurement] | None
    field: str | None = None
    field_type: type = float  # int, float or bool (bool: True when the check failed)

    def column_value(self, check: CheckResult | None):
        """The column's value for this check's result (``None``: not measured)."""
        if self.field_type is bool:
            return check is not None and not check.passed
        if self.field_type is int:
            return int(check.value) if check is not None else 0
        return check.value if check is not None else None


QUALITY_CHECKS: tuple[QualityCheck, ...] = (
    QualityCheck("resolution", "Resolution too low", _resolution, "min_side", int),
    QualityCheck("blur", "Image is blurry", _blur, "blur_score"),
    QualityCheck("brightness", "Product too dark or too bright", _brightness, "brightness_score"),
    QualityCheck("contrast", "Contrast too low", _contrast, "contrast_score"),
    QualityCheck("aspect_ratio", "Aspect ratio too extreme", _aspect_ratio, "aspect_ratio"),
    QualityCheck("grayscale", "Image is greyscale", _grayscale, "is_grayscale", bool),
    QualityCheck("background", "Background is not pure white", _background),
    # Measured by the pipeline against the other stored images (needs the database).
    QualityCheck("duplicate", "Duplicate of another product's image", None),
)
CHECKS_BY_NAME = {check.name: check for check in QUALITY_CHECKS}
# The AnalysisResult columns (and API fields) that hold a check's number.
MEASURE_FIELDS = tuple(check.field for check in QUALITY_CHECKS if check.field)


def check_label(name: str) -> str:
    declared = CHECKS_BY_NAME.get(name)
    return declared.label if declared else name.replace("_", " ").capitalize()


def run_quality_checks(
    image: Image.Image, preset: QualityPreset, size: Size | None = None
) -> QualityReport:
    """Run every check on an RGB image; duplicates are judged by the caller with the hash.

    ``size`` is the file's own (width, height) when ``image`` was decoded reduced
    (``decode_image(working_side=…)``): resolution and aspect ratio are the file's,
    the other checks work on their own smaller copies of the same decode.
    """
    size = size or image.size
    blocking = set(preset.blocking) | ({"grayscale"} if preset.grayscale_blocks else set())
    report = QualityReport(preset=preset.name, perceptual_hash=perceptual_hash(image))
    for declared in QUALITY_CHECKS:
        measured = declared.measure(image, preset, size) if declared.measure else None
        if measured is None:
            continue
        value, passed, limit = measured
        report.checks.append(
            CheckResult(
                declared.name,
                round(float(value), 4),
                bool(passed),
                limit,
                declared.name in blocking,
            )
        )
    return report
