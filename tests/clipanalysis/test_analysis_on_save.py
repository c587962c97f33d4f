"""Saving a product runs the analysis task and writes exactly one result."""

import pytest

from clipanalysis.models import AnalysisResult, ImageEmbedding
from tests.factories import add_image, make_product

pytestmark = pytest.mark.django_db(transaction=True)


def test_saving_a_product_with_an_image_writes_one_done_result():
    product = make_product("Red cotton t-shirt")
    image = add_image(product)

    results = AnalysisResult.objects.filter(image=image)
    assert results.count() == 1
    result = results.get()
    assert result.status == AnalysisResult.Status.DONE, result.error
    assert result.is_current
    assert 0.0 <= result.similarity_score <= 1.0
    assert result.is_match == (result.similarity_score >= result.threshold)
    assert result.min_side == 640
    assert result.blur_score > 0
    assert result.status_text.startswith(("Match (score: ", "Mismatch (score: "))


def test_saving_twice_without_changes_adds_no_result():
    product = make_product("Blue ceramic mug, 350 ml")
    image = add_image(product)
    product.save()
    product.save()
    assert AnalysisResult.objects.filter(image=image).count() == 1


def test_description_change_rescores_and_keeps_history():
    product = make_product("Blue ceramic mug")
    image = add_image(product)
    product.description = "Green leather backpack"
    product.save()

    results = AnalysisResult.objects.filter(image=image)
    assert results.count() == 2
    current = results.current().get()
    assert current.description == "Green leather backpack"
    assert current.status == AnalysisResult.Status.DONE


def test_bad_stored_file_fails_with_reason_instead_of_staying_pending(tmp_path):
    product = make_product()
    image = add_image(product)
    # Corrupt the stored file behind the model's back, then ask again. A description
    # edit alone reuses the stored embedding and quality report (no decode), so the
    # stored embedding goes too: now the file must be decoded.
    with open(image.image.path, "wb") as handle:
        handle.write(b"not an image at all")
    ImageEmbedding.objects.all().delete()
    product.description = "Something else"
    product.save()

    current = AnalysisResult.objects.current().get(image=image)
    assert current.status == AnalysisResult.Status.FAILED
    assert "not an image" in current.error


@pytest.mark.django_db(transaction=True)
def test_an_image_deleted_by_a_concurrent_request_is_skipped_not_a_500(monkeypatch):
    """A product PATCH re-requests its images while another request deletes one."""
    from clipanalysis import pipeline

    product = make_product("Red cotton t-shirt")
    kept, doomed = add_image(product), add_image(product)
    real = pipeline._make_current

    def deleted_meanwhile(image, *args):
        if image.pk == doomed.pk:
            type(image).objects.filter(pk=image.pk).delete()
        return real(image, *args)

    monkeypatch.setattr(pipeline, "_make_current", deleted_meanwhile)
    results = pipeline.request_analysis([kept.pk, doomed.pk])
    assert [result.image_id for result in results] == [kept.pk]
