"""Re-scoring reuses what the image bytes already gave: counted on the real tiny model.

The decoder, the image encoder and the quality checks are wrapped (they still run for
real); a description edit or a new threshold must call none of them, a new model only
the decoder and the encoder.
"""

from dataclasses import dataclass, field

import pytest
import torch

from catalog.imaging import BadImageError
from clipanalysis import pipeline, quality
from clipanalysis.models import AnalysisResult, ImageEmbedding
from clipanalysis.registry import activate, register_model
from tests.factories import add_image, image_bytes, make_product, packshot, photo_like

pytestmark = pytest.mark.django_db
Status = AnalysisResult.Status


@dataclass
class Calls:
    decodes: int = 0
    encoded_images: list[int] = field(default_factory=list)  # batch sizes
    quality_checks: int = 0


@pytest.fixture
def calls(monkeypatch, clean_clip_services) -> Calls:
    counted = Calls()
    real_decode, real_checks = pipeline.decode_image, quality.run_quality_checks

    def decode(*args, **kwargs):
        counted.decodes += 1
        return real_decode(*args, **kwargs)

    def checks(*args, **kwargs):
        counted.quality_checks += 1
        return real_checks(*args, **kwargs)

    monkeypatch.setattr(pipeline, "decode_image", decode)
    monkeypatch.setattr(quality, "run_quality_checks", checks)
    real_service_for = pipeline.service_for

    def service_for(model_version):
        service = real_service_for(model_version)
        model = service.model
        if not hasattr(model, "_counted"):
            real_encoder = model.get_image_features

            def encoder(*args, **kwargs):
                counted.encoded_images.append(len(kwargs["pixel_values"]))
                return real_encoder(*args, **kwargs)

            model.get_image_features = encoder
            model._counted = True
        return service

    monkeypatch.setattr(pipeline, "service_for", service_for)
    return counted


def score(result: AnalysisResult) -> AnalysisResult:
    assert pipeline.analyse(result.pk).startswith(("Match", "Mismatch"))
    result.refresh_from_db()
    return result


def scored_product(description="Red cotton t-shirt", seed=1):
    product = make_product(description)
    image = add_image(product, image_bytes(photo_like(seed, (900, 700))))
    return product, image, score(AnalysisResult.objects.get(image=image))


def test_a_description_edit_calls_no_decoder_no_encoder_no_checks(calls, scoring_model):
    product, image, first = scored_product()
    assert (calls.decodes, calls.encoded_images, calls.quality_checks) == (1, [1], 1)

    product.description = "Blue ceramic mug, 350 ml"
    product.save()
    edited = AnalysisResult.objects.get(image=image, is_current=True)
    assert edited.pk != first.pk and edited.status == Status.PENDING
    edited = score(edited)

    assert (calls.decodes, calls.encoded_images, calls.quality_checks) == (1, [1], 1)
    assert edited.quality == first.quality
    assert (edited.min_side, edited.blur_score) == (first.min_side, first.blur_score)
    # The score is the stored embedding against the new text, as a fresh score would be.
    service = pipeline.service_for(scoring_model)
    stored = ImageEmbedding.objects.get(image_hash=image.content_hash, model_version=scoring_model)
    vector = torch.frombuffer(bytearray(stored.vector), dtype=torch.float32)
    assert edited.similarity_score == pytest.approx(
        service.similarity_from_embedding(vector, "Blue ceramic mug, 350 ml"), abs=1e-6
    )


def test_a_new_threshold_rejudges_from_stored_work(calls, scoring_model):
    _product, _image, first = scored_product()
    activate(scoring_model, threshold=first.similarity_score + 0.01, check=False)
    assert pipeline.rescore_catalog(scoring_model) == 1
    again = score(AnalysisResult.objects.get(pk=first.pk))

    assert (calls.decodes, calls.encoded_images, calls.quality_checks) == (1, [1], 1)
    assert again.threshold == pytest.approx(first.similarity_score + 0.01)
    assert again.is_match is False
    assert again.similarity_score == pytest.approx(first.similarity_score, abs=1e-6)


def test_a_new_model_embeds_again_but_keeps_the_quality_report(
    calls, scoring_model, other_clip_dir
):
    _product, image, first = scored_product()
    new_version = activate(register_model(other_clip_dir), check=False)
    pipeline.rescore_catalog(new_version)
    second = score(AnalysisResult.objects.get(image=image, is_current=True))

    assert second.model_version == new_version
    assert (calls.decodes, calls.encoded_images, calls.quality_checks) == (2, [1, 1], 1)
    assert second.quality == first.quality
    assert ImageEmbedding.objects.filter(image_hash=image.content_hash).count() == 2


def test_a_batch_equals_single_rows_and_encodes_once(calls, scoring_model):
    products = [make_product(f"Product {n} in red") for n in range(3)]
    images = [add_image(p, image_bytes(photo_like(10 + n))) for n, p in enumerate(products)]
    rows = [
        AnalysisResult.objects.select_related("image", "model_version").get(image=i) for i in images
    ]

    together = pipeline.compute_many(rows)
    assert calls.encoded_images == [3] and calls.decodes == 3

    ImageEmbedding.objects.all().delete()
    AnalysisResult.objects.update(status=Status.PENDING)  # nothing stored to reuse
    alone = [pipeline.compute(row) for row in rows]
    for batch_fields, single_fields in zip(together, alone, strict=True):
        assert batch_fields["similarity_score"] == pytest.approx(
            single_fields["similarity_score"], abs=1e-6
        )
        assert batch_fields["quality"] == single_fields["quality"]


def test_one_bad_image_in_a_batch_fails_that_row_only(calls, scoring_model):
    good = add_image(make_product("Red cotton t-shirt"), image_bytes(packshot()))
    bad = add_image(make_product("Blue mug"), image_bytes(packshot(colour=(30, 30, 200))))
    with open(bad.image.path, "wb") as handle:  # the stored file is damaged afterwards
        handle.write(b"\xff\xd8\xff not a jpeg any more")
    rows = [
        AnalysisResult.objects.select_related("image", "model_version").get(image=image)
        for image in (good, bad)
    ]
    outcome_good, outcome_bad = pipeline.compute_many(rows)
    assert isinstance(outcome_bad, BadImageError)
    assert isinstance(outcome_good, dict) and outcome_good["similarity_score"] is not None
