"""Classic image-quality checks. Pure core: PIL images and numpy in, dataclasses out.

Each check yields a number and a pass/fail against a preset. Lessons from
CleanVision's misses are built in:

* blur is measured on a 512-px greyscale copy — on a 64-px thumbnail every
  image looks sharp;
* exposure is judged on the product, not the background, so a compliant
  packshot on pure white is not "too light";
* exposure is judged as a photographer reads a histogram: blown highlights and
  crushed shadows are shares of *product* pixels at the extremes, once a pure-white
  or pure-black backdrop is masked out; and a frame is underexposed when nothing in
  it is bright (its white point), so a black product on white is not "too dark";
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
from functools import cached_property

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
# A backdrop is "pure" white or black when the border's median colour is at least this
# light (min channel) or this dark (max channel); its pixels are those within
# BACKDROP_TOLERANCE of it (sensor noise, JPEG), connected to the border.
PURE_WHITE_BACKDROP = 235
PURE_BLACK_BACKDROP = 20
BACKDROP_TOLERANCE = 20
# Backdrop-coloured regions the product encloses (the hole of a mug's handle) count as
# backdrop from this share of the frame; smaller ones (white dots printed on the
# product) stay product.
BACKDROP_HOLE_FRACTION = 0.003
# A black border is a backdrop only in a frame that has highlights (99th percentile of
# luminance at least this): an underexposed photograph's border is black too.
LIT_FRAME_LEVEL = 128
# Luminance at which a pixel is clipped (blown) or crushed (no detail left).
CLIPPED_LEVEL = 250
CRUSHED_LEVEL = 5


@dataclass(frozen=True)
class QualityPreset:
    """Thresholds for one publishing context; every default says why."""

    name: str
    # Smallest side in px. 500 px is the common minimum for a listing to show well.
    min_side: int = 500
    # Variance of the Laplacian on the 512-px greyscale copy. Sharp packshots
    # score in the hundreds to thousands; a visibly soft photo falls below 100.
    min_blur: float = 100.0
    # Mean luminance of the product itself (not the background). Darker than
    # min_brightness is "too dark" only in a frame without highlights (see
    # min_white_point): a black product in a lit frame is correctly exposed. Lighter
    # than max_brightness is "too light" only with blown highlights: a white product
    # on white that keeps its detail is correctly exposed.
    min_brightness: float = 40.0
    max_brightness: float = 235.0
    # Share of product pixels blown to white (luminance >= 250) once a pure-white or
    # pure-black backdrop is masked. Normal photographs stay under ~4%; a photo with
    # its brightness doubled has 5.5% or more; white print on a product ~3%.
    max_clipped_highlights: float = 0.05
    # Share of product pixels crushed to black (luminance <= 5) after the same
    # masking. Normal photographs stay under 1%; two stops under, a third or more.
    max_crushed_shadows: float = 0.10
    # The frame's white point: 99th percentile of luminance over the whole image.
    # A lit frame (a white backdrop, a highlight) reaches ~200 or more; two stops
    # under exposure leave it at ~60, so below 128 nothing in the frame is bright.
    min_white_point: float = 128.0
    # Std of luminance over the whole image: near-flat images carry no product.
    min_contrast: float = 15.0
    # Long side / short side; beyond 3:1 thumbnails crop the product away.
    max_aspect_ratio: float = 3.0
    # Greyscale photos are legal but usually a wrong or placeholder image.
    grayscale_blocks: bool = False
    # Marketplace packshots must sit on pure white (RGB 255,255,255 ± 10).
    require_white_background: bool = False
    blocking: tuple[str, ...] = (
        "resolution", "blur", "brightness", "highlights", "shadows", "white_point", "contrast",
        "aspect_ratio",
    )  # fmt: skip


PRESETS: dict[str, QualityPreset] = {
    "general": QualityPreset(name="general"),
    # Amazon-style main-image rules: 1000 px minimum side so zoom works,
    # pure-white background, product filling the frame.
    "marketplace": QualityPreset(
        name="marketplace",
        min_side=1000,
        max_aspect_ratio=2.0,
        require_white_background=True,
        blocking=(*QualityPreset.blocking, "background"),
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


def backdrop_mask(pixels: np.ndarray) -> np.ndarray:
    """A pure-white or pure-black backdrop of an (h, w, 3) array; all False when there is none.

    The backdrop is the border's median colour when that is pure white or black and
    most of the border has it: the pixels within ``BACKDROP_TOLERANCE`` of it that are
    connected to the border, plus the enclosed regions of that colour of at least
    ``BACKDROP_HOLE_FRACTION`` of the frame. A photograph's own blown sky or black
    shadow is not masked unless it fills most of the border, and a black border only
    in a frame with highlights (``LIT_FRAME_LEVEL``).
    """
    none = np.zeros(pixels.shape[:2], dtype=bool)
    border = border_pixels(pixels).astype(np.int16)
    colour = np.median(border, axis=0)
    white = colour.min() >= PURE_WHITE_BACKDROP
    black = colour.max() <= PURE_BLACK_BACKDROP
    if black and np.percentile(pixels.max(axis=-1), 99) < LIT_FRAME_LEVEL:
        return none
    if not (white or black):
        return none
    if (np.abs(border - colour).max(axis=-1) <= BACKDROP_TOLERANCE).mean() < 0.5:
        return none
    near = np.abs(pixels.astype(np.int16) - colour).max(axis=-1) <= BACKDROP_TOLERANCE
    _, labels = cv2.connectedComponents(near.astype(np.uint8), connectivity=4)
    edge = np.zeros(near.shape, dtype=bool)
    edge[0, :] = edge[-1, :] = edge[:, 0] = edge[:, -1] = True
    sizes = np.bincount(labels.ravel())
    backdrop = set(np.unique(labels[edge & near]).tolist())
    backdrop |= set(np.flatnonzero(sizes >= BACKDROP_HOLE_FRACTION * labels.size).tolist())
    backdrop.discard(0)
    return np.isin(labels, sorted(backdrop)) & near


class Views:
    """The working copies the checks read, each made once per image.

    Several checks read the same 256-px thumbnail, its luminance and its backdrop
    mask; deriving them once instead of once per check is what keeps the checks
    cheap beside the model (they were over half of a fresh score, cProfile).
    """

    def __init__(self, image: Image.Image):
        self.image = image

    @classmethod
    def of(cls, image: Image.Image | Views) -> Views:
        return image if isinstance(image, Views) else cls(image)

    @cached_property
    def grey(self) -> Image.Image:
        """The image in greyscale, at its own size."""
        return self.image.convert("L")

    @cached_property
    def thumbnail(self) -> np.ndarray:
        """The 256-px RGB thumbnail, (h, w, 3) uint8."""
        return thumbnail_pixels(self.image)

    @cached_property
    def thumbnail_luminance(self) -> np.ndarray:
        return np.asarray(Image.fromarray(self.thumbnail).convert("L"), dtype=np.float32)

    @cached_property
    def exposure(self) -> np.ndarray:
        """Luminance of the product's pixels (backdrop masked) on the thumbnail.

        Without a backdrop the whole frame is the product. A frame that is all backdrop
        (a white product on white, within the backdrop's tolerance) has no product
        pixels to be blown or crushed; a blank frame fails the contrast check instead.
        """
        return self.thumbnail_luminance[~backdrop_mask(self.thumbnail)]


def _share(values: np.ndarray) -> float:
    return float(values.mean()) if values.size else 0.0


def clipped_highlights(image: Image.Image | Views) -> float:
    """Share of product pixels blown to white (backdrop masked)."""
    return _share(Views.of(image).exposure >= CLIPPED_LEVEL)


def crushed_shadows(image: Image.Image | Views) -> float:
    """Share of product pixels crushed to black (backdrop masked)."""
    return _share(Views.of(image).exposure <= CRUSHED_LEVEL)


def white_point(image: Image.Image | Views) -> float:
    """The 99th percentile of luminance over the whole frame (0-255)."""
    return float(np.percentile(Views.of(image).thumbnail_luminance, 99))


def product_brightness(image: Image.Image | Views) -> float:
    """Mean luminance of the product region (0-255)."""
    views = Views.of(image)
    return float(views.thumbnail_luminance[product_mask(views.thumbnail)].mean())


def white_background_fraction(image: Image.Image | Views) -> float:
    """Share of border pixels that are pure white (every channel >= 245)."""
    return float((border_pixels(Views.of(image).thumbnail).min(axis=-1) >= 245).mean())


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
# A measure takes the image's ``Views`` (its ``image`` perhaps decoded reduced: each
# measure works at its own size), the preset and the file's own (width, height), and
# returns (value, passed, limit text), or None when the check does not apply here.
Measurement = tuple[float, bool, str] | None
Size = tuple[int, int]


def _resolution(views: Views, preset: QualityPreset, size: Size) -> Measurement:
    side = min(size)
    return side, side >= preset.min_side, f">= {preset.min_side} px"


def _blur(views: Views, preset: QualityPreset, size: Size) -> Measurement:
    blur = blur_score(views.grey)
    return blur, blur >= preset.min_blur, f">= {preset.min_blur}"


def _brightness(views: Views, preset: QualityPreset, size: Size) -> Measurement:
    brightness = product_brightness(views)
    # A product's own colour is not its exposure: a black shoe in a lit frame is not
    # too dark, a white shirt on white whose highlights keep their detail not too light.
    lit = white_point(views) >= preset.min_white_point
    blown = clipped_highlights(views) > preset.max_clipped_highlights
    too_dark = brightness < preset.min_brightness and not lit
    too_light = brightness > preset.max_brightness and blown
    limit = (
        f"{preset.min_brightness}-{preset.max_brightness} (darker is fine in a frame whose "
        f"white point is >= {preset.min_white_point}, lighter when highlights are not blown)"
    )
    return brightness, not (too_dark or too_light), limit


def _highlights(views: Views, preset: QualityPreset, size: Size) -> Measurement:
    share = clipped_highlights(views)
    limit = preset.max_clipped_highlights
    return share, share <= limit, f"<= {limit:.0%} of product pixels blown to white"


def _shadows(views: Views, preset: QualityPreset, size: Size) -> Measurement:
    share = crushed_shadows(views)
    limit = preset.max_crushed_shadows
    return share, share <= limit, f"<= {limit:.0%} of product pixels crushed to black"


def _white_point(views: Views, preset: QualityPreset, size: Size) -> Measurement:
    level = white_point(views)
    limit = preset.min_white_point
    return level, level >= limit, f">= {limit} (99th percentile of the frame's luminance)"


def _contrast(views: Views, preset: QualityPreset, size: Size) -> Measurement:
    contrast = float(luminance(views.grey).std())
    return contrast, contrast >= preset.min_contrast, f">= {preset.min_contrast}"


def _aspect_ratio(views: Views, preset: QualityPreset, size: Size) -> Measurement:
    width, height = size
    aspect = max(width, height) / max(1, min(width, height))
    return aspect, aspect <= preset.max_aspect_ratio, f"<= {preset.max_aspect_ratio}"


def _grayscale(views: Views, preset: QualityPreset, size: Size) -> Measurement:
    colourfulness = grayscale_score(views.image)
    return colourfulness, colourfulness >= 3.0, ">= 3 (colour spread)"


def _background(views: Views, preset: QualityPreset, size: Size) -> Measurement:
    if not preset.require_white_background:
        return None
    white = white_background_fraction(views)
    return white, white >= 0.9, ">= 90% of border pure white"


@dataclass(frozen=True)
class QualityCheck:
    """One check: what it is called, what a failure means, how it is measured, where
    its number is kept (``field``: an ``AnalysisResult`` column and API field)."""

    name: str
    label: str
    measure: Callable[[Views, QualityPreset, Size], Measurement] | None
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
    QualityCheck("highlights", "Highlights blown (overexposed)", _highlights),
    QualityCheck("shadows", "Shadows crushed to black (underexposed)", _shadows),
    QualityCheck("white_point", "Nothing in the frame is bright (underexposed)", _white_point),
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
    views = Views(image)
    for declared in QUALITY_CHECKS:
        measured = declared.measure(views, preset, size) if declared.measure else None
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
