"""Quality checks against images whose properties we know."""

import io
from dataclasses import replace

import numpy as np
import pytest
from matplotlib import cbook
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter

from clipanalysis.api.serializers.analyses import AnalysisResultSerializer
from clipanalysis.api.serializers.scoring import (
    BatchItemResultSerializer,
    SeedUploadResultSerializer,
)
from clipanalysis.models import AnalysisResult
from clipanalysis.quality import (
    PRESETS,
    QUALITY_CHECKS,
    check_label,
    get_preset,
    hash_distance,
    near_duplicates,
    perceptual_hash,
    run_quality_checks,
)
from tests.factories import image_bytes, packshot, photo_like

GENERAL = PRESETS["general"]


def check(report, name):
    return next(c for c in report.checks if c.name == name)


def test_sharp_packshot_passes_every_check():
    report = run_quality_checks(packshot(size=(1200, 1200)), GENERAL)
    assert report.passed, report.failures


def test_gaussian_blurred_copy_fails_blur_and_scores_far_lower():
    sharp = packshot(size=(1200, 1200))
    blurred = sharp.filter(ImageFilter.GaussianBlur(6))
    sharp_report = run_quality_checks(sharp, GENERAL)
    blurred_report = run_quality_checks(blurred, GENERAL)
    assert check(blurred_report, "blur").value < check(sharp_report, "blur").value / 5
    assert "blur" in blurred_report.failures
    assert "blur" not in sharp_report.failures


def test_dark_image_fails_brightness_but_bright_packshot_on_white_does_not():
    dark = packshot(colour=(10, 10, 30), background=(5, 5, 5))
    assert "brightness" in run_quality_checks(dark, GENERAL).failures
    # A compliant packshot on pure white: the backdrop must not make it "too light".
    on_white = packshot(colour=(40, 90, 200), background=(255, 255, 255))
    assert "brightness" not in run_quality_checks(on_white, GENERAL).failures


def test_product_brightness_ignores_the_white_background():
    light_product = packshot(colour=(250, 250, 120), background=(255, 255, 255), stripes=False)
    report = run_quality_checks(light_product, GENERAL)
    # Product luminance, not the ~255 of a mostly white frame.
    assert check(report, "brightness").value < 245


def test_tiny_image_fails_resolution_and_large_passes():
    assert "resolution" in run_quality_checks(packshot(size=(120, 120)), GENERAL).failures
    assert "resolution" not in run_quality_checks(packshot(size=(800, 800)), GENERAL).failures


def test_marketplace_preset_demands_1000px_and_white_background():
    marketplace = get_preset("marketplace")
    grey_backdrop = packshot(size=(1100, 1100), background=(200, 200, 200))
    report = run_quality_checks(grey_backdrop, marketplace)
    assert "background" in report.failures
    small_white = packshot(size=(800, 800))
    assert run_quality_checks(small_white, marketplace).failures == ["resolution"]


def test_extreme_aspect_ratio_fails():
    strip = packshot(size=(2000, 400))
    assert "aspect_ratio" in run_quality_checks(strip, GENERAL).failures


def test_flat_image_fails_contrast():
    flat = Image.new("RGB", (800, 800), (128, 128, 128))
    assert "contrast" in run_quality_checks(flat, GENERAL).failures


def test_grayscale_is_detected():
    grey = packshot().convert("L").convert("RGB")
    assert not check(run_quality_checks(grey, GENERAL), "grayscale").passed
    assert check(run_quality_checks(packshot(), GENERAL), "grayscale").passed


def test_near_duplicates_tolerate_recompression_and_small_crops_but_not_other_images():
    original = photo_like(1)
    recompressed = Image.open(io.BytesIO(image_bytes(original, quality=50)))
    cropped = original.crop((10, 10, 590, 590))
    brighter = ImageEnhance.Brightness(original).enhance(1.1)
    others = [photo_like(seed) for seed in range(2, 6)]
    candidates = [(1, perceptual_hash(recompressed)), (2, perceptual_hash(cropped))]
    candidates += [(3, perceptual_hash(brighter))]
    candidates += [(10 + i, perceptual_hash(other)) for i, other in enumerate(others)]

    found = near_duplicates(perceptual_hash(original), candidates, max_distance=6)

    assert sorted(candidate for candidate, _ in found) == [1, 2, 3]
    assert found == sorted(found, key=lambda pair: pair[1])
    assert all(hash_distance(perceptual_hash(original), perceptual_hash(o)) > 6 for o in others)


def test_unknown_preset_is_a_clear_error():
    with pytest.raises(ValueError, match="Unknown quality preset"):
        get_preset("nope")


def test_every_check_that_keeps_a_number_has_a_result_column_and_api_fields():
    """Adding a check to QUALITY_CHECKS with a ``field`` needs only its column (migration)."""
    columns = {field.name for field in AnalysisResult._meta.get_fields()}
    batch_fields = set(BatchItemResultSerializer().fields)
    for declared in QUALITY_CHECKS:
        assert check_label(declared.name) == declared.label
        if declared.field:
            assert declared.field in columns, declared.field
            assert declared.field in AnalysisResultSerializer.Meta.fields
            assert declared.field in SeedUploadResultSerializer.Meta.fields
            assert declared.field in batch_fields


# --- exposure, as a photographer reads it ---------------------------------------------
EXPOSURE_CHECKS = ("brightness", "highlights", "shadows", "white_point")


def real_photograph() -> Image.Image:
    """Grace Hopper's portrait, the photograph matplotlib ships as sample data."""
    with cbook.get_sample_data("grace_hopper.jpg") as handle:
        return Image.open(handle).convert("RGB")


def exposed(image: Image.Image, factor: float) -> Image.Image:
    """The same photo with its brightness multiplied (3: tripled, 0.25: two stops under)."""
    pixels = np.asarray(image, dtype=np.float32) * factor
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


def exposure_failures(image):
    report = run_quality_checks(image, GENERAL)
    return [name for name in report.failures if name in EXPOSURE_CHECKS], report


def test_white_background_packshot_is_correctly_exposed():
    failures, report = exposure_failures(packshot(colour=(40, 90, 200), size=(800, 800)))
    assert failures == []
    # The pure-white backdrop is masked: none of the product's pixels are blown.
    assert check(report, "highlights").value < 0.01
    assert check(report, "white_point").value >= 250


def test_white_print_and_an_enclosed_hole_on_a_white_packshot_are_not_blown_highlights():
    image = packshot(colour=(30, 30, 35), size=(800, 800), stripes=False)
    draw = ImageDraw.Draw(image)
    draw.rectangle((330, 330, 470, 470), fill=(255, 255, 255))  # a hole (a mug's handle)
    for x in range(220, 580, 60):  # white dots printed on the product
        draw.ellipse((x, 230, x + 12, 242), fill=(255, 255, 255))
    assert exposure_failures(image)[0] == []


def test_black_product_on_white_is_not_too_dark():
    phone = packshot(colour=(14, 14, 18), size=(800, 800), stripes=False)
    failures, report = exposure_failures(phone)
    assert check(report, "brightness").value < GENERAL.min_brightness  # a dark product …
    assert failures == []  # … correctly exposed: the frame's whites are white


def test_white_product_on_white_is_not_too_light():
    shirt = Image.new("RGB", (800, 800), (250, 250, 250))
    ImageDraw.Draw(shirt).rectangle((200, 150, 600, 650), fill=(236, 236, 232))
    failures, report = exposure_failures(shirt)
    assert check(report, "brightness").value > GENERAL.max_brightness  # a light product …
    assert failures == []  # … whose whites keep their detail


def test_real_photograph_passes_and_its_overexposed_copy_fails_blown_highlights():
    photo = real_photograph()
    failures, report = exposure_failures(photo)
    assert failures == []
    over_failures, over = exposure_failures(exposed(photo, 3))
    assert "highlights" in over_failures
    assert check(over, "highlights").value > 5 * check(report, "highlights").value


def test_overexposed_photo_without_a_backdrop_fails_highlights():
    assert "highlights" in exposure_failures(exposed(photo_like(4), 3))[0]
    assert exposure_failures(photo_like(4))[0] == []


def test_underexposed_photo_fails_white_point_and_crushed_shadows():
    # Two stops under: the dark backdrop of the portrait is not masked as "pure black",
    # since nothing in the frame is bright.
    failures, report = exposure_failures(exposed(real_photograph(), 0.25))
    assert {"white_point", "shadows"} <= set(failures)
    assert check(report, "white_point").value < GENERAL.min_white_point
    assert check(report, "shadows").value > GENERAL.max_crushed_shadows


def test_product_on_a_pure_black_backdrop_is_not_crushed_shadows():
    on_black = packshot(colour=(200, 170, 60), size=(800, 800), background=(0, 0, 0))
    assert exposure_failures(on_black)[0] == []


def test_exposure_limits_live_in_the_preset_and_move_the_verdict():
    photo = exposed(real_photograph(), 3)
    lenient = replace(GENERAL, max_clipped_highlights=0.9)
    assert "highlights" in run_quality_checks(photo, GENERAL).failures
    assert "highlights" not in run_quality_checks(photo, lenient).failures
    assert (
        check(run_quality_checks(photo, GENERAL), "highlights").limit
        == "<= 5% of product pixels blown to white"
    )
