"""Decode once, at the size needed: JPEG draft decoding, checks on the same decode,
CLIP preprocessing on the batch."""

import numpy as np
import pytest
from PIL import Image

from catalog.imaging import decode_image
from clipanalysis import pipeline
from clipanalysis.clip_service import ClipService, prepare_image
from clipanalysis.image_signature import hamming_distance
from clipanalysis.models import AnalysisResult
from clipanalysis.quality import QUALITY_CHECKS, get_preset, run_quality_checks
from tests.factories import add_image, image_bytes, make_product, packshot, photo_like

GENERAL = get_preset("general")


def test_a_large_jpeg_is_decoded_reduced_but_keeps_its_own_size():
    decoded = decode_image(image_bytes(packshot(size=(2400, 1600))), working_side=512)
    assert decoded.reduced
    assert 512 <= max(decoded.image.size) < 1024  # 1/4 scale: 600 x 400
    assert (decoded.width, decoded.height) == (2400, 1600)
    full = decode_image(image_bytes(packshot(size=(2400, 1600))))
    assert full.image.size == (2400, 1600) and not full.reduced


def test_small_jpegs_and_other_formats_are_decoded_whole():
    small = decode_image(image_bytes(packshot(size=(700, 500))), working_side=512)
    assert small.image.size == (700, 500)
    png = decode_image(image_bytes(packshot(size=(1600, 1200)), fmt="PNG"), working_side=512)
    assert png.image.size == (1600, 1200)


def test_a_reduced_exif_rotated_jpeg_reports_its_displayed_size():
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise on display
    data = image_bytes(packshot(size=(2400, 1600)), exif=exif.tobytes())
    decoded = decode_image(data, working_side=512)
    assert (decoded.width, decoded.height) == (1600, 2400)
    assert decoded.image.width < decoded.image.height and decoded.reduced


def test_checks_on_a_reduced_decode_judge_the_files_own_size():
    data = image_bytes(photo_like(3, size=(2400, 1200)))
    reduced = decode_image(data, working_side=512)
    full = decode_image(data)
    on_reduced = run_quality_checks(reduced.image, GENERAL, (reduced.width, reduced.height))
    on_full = run_quality_checks(full.image, GENERAL)
    assert on_reduced.value("resolution") == 1200 == on_full.value("resolution")
    assert on_reduced.value("aspect_ratio") == 2.0 == on_full.value("aspect_ratio")
    assert on_reduced.value("brightness") == pytest.approx(on_full.value("brightness"), abs=2)
    assert on_reduced.value("contrast") == pytest.approx(on_full.value("contrast"), rel=0.05)
    assert hamming_distance(on_reduced.perceptual_hash, on_full.perceptual_hash) <= 4
    # Without a size the decode's own size is judged (the batch-score path, a whole decode).
    assert run_quality_checks(reduced.image, GENERAL).value("resolution") == 300
    assert {check.name for check in on_reduced.checks} <= {c.name for c in QUALITY_CHECKS}


@pytest.fixture(scope="module")
def service(tiny_clip_dir) -> ClipService:
    return ClipService.load(tiny_clip_dir, device="cpu", dtype="float32")


def test_batch_preprocessing_equals_the_processor(service):
    rng = np.random.default_rng(0)
    sizes = [(100, 100), (37, 80), (300, 200), (1000, 30), (33, 33)]
    images = [
        prepare_image(Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8)))
        for h, w in sizes
    ]
    ours = service.pixel_values(images)
    theirs = service.processor(images=images, return_tensors="pt")["pixel_values"]
    assert ours.shape == theirs.shape == (5, 3, 32, 32)
    assert (ours - theirs).abs().max().item() < 1e-5
    # One image alone is the batch's row.
    assert (service.pixel_values(images[2:3])[0] - ours[2]).abs().max().item() == 0


def test_an_image_smaller_than_the_crop_goes_through_the_processor(service):
    tiny = Image.new("RGB", (10, 10), (200, 30, 30))
    theirs = service.processor(images=[tiny], return_tensors="pt")["pixel_values"]
    assert (service.pixel_values([tiny]) - theirs).abs().max().item() < 1e-5


@pytest.mark.django_db
def test_the_worker_decodes_a_large_jpeg_once_reduced_and_records_its_size(monkeypatch):
    decodes = []
    real_decode = pipeline.decode_image

    def counting_decode(*args, **kwargs):
        decoded = real_decode(*args, **kwargs)
        decodes.append(decoded)
        return decoded

    monkeypatch.setattr(pipeline, "decode_image", counting_decode)
    image = add_image(make_product("Red cotton t-shirt"), image_bytes(photo_like(5, (2000, 1500))))
    result = AnalysisResult.objects.get(image=image)
    assert pipeline.analyse(result.pk).startswith(("Match", "Mismatch"))

    result.refresh_from_db()
    assert len(decodes) == 1 and decodes[0].reduced
    assert max(decodes[0].image.size) < 2000
    assert result.min_side == 1500 and result.aspect_ratio == pytest.approx(4 / 3, abs=1e-3)
