"""A verdict settles the flags it was shown (issue 13): re-scoring re-opens only what changed."""

from __future__ import annotations

import pytest

from clipanalysis import review
from clipanalysis.models import AnalysisResult, ModelVersion, ReviewItem
from clipanalysis.pipeline import request_analysis, rescore_catalog
from clipanalysis.registry import activate, register_model
from tests.clipanalysis.test_review_queue import finish_analysis, scored_item
from tests.factories import add_image, make_product
from tests.verdict_factories import distinct_image

pytestmark = pytest.mark.django_db
Decision = review.Decision


@pytest.fixture
def new_model(db) -> ModelVersion:
    return ModelVersion.objects.create(version="next-v2", name_or_path="next", threshold=0.25)


def rescore(image, model_version, score, *, duplicate_of=None, **kwargs) -> ReviewItem | None:
    """A new analysis of the image by ``model_version`` (a new row, as activation makes)."""
    request_analysis([image.pk], model_version=model_version)  # the enqueue never runs here
    result = finish_analysis(image, score, model_version=model_version, **kwargs)
    if duplicate_of is not None:
        result.duplicate_of = duplicate_of
        result.duplicate_distance = 3
        result.quality_failures = [*result.quality_failures, "duplicate"]
        result.quality_passed = False
        result.save()
    return review.sync_review_item(result)


def ruled(item: ReviewItem, decision: str = Decision.MATCH, reviewer=None) -> ReviewItem:
    review.record_verdict(item, reviewer=reviewer, decision=decision)
    return item


def open_items(image) -> list[ReviewItem]:
    return list(ReviewItem.objects.open().filter(image=image))


def test_the_same_outcome_under_a_new_model_stays_ruled(new_model):
    item = ruled(scored_item(0.10, quality_failures=("blur",)), Decision.MISMATCH)
    # Another score and threshold, still a mismatch, blur still failing: nothing new.
    assert rescore(item.image, new_model, 0.05, threshold=0.3, quality_failures=("blur",)) is None
    assert open_items(item.image) == []


def test_a_flipped_match_decision_re_opens(new_model):
    item = ruled(scored_item(0.26))  # uncertain, a match: the reviewer said Match
    reopened = rescore(item.image, new_model, 0.10)  # now a confident mismatch
    assert reopened is not None and reopened.pk != item.pk
    assert "mismatch" in reopened.reasons


def test_a_new_quality_failure_re_opens_for_that_failure_only(new_model):
    item = ruled(scored_item(0.10, quality_failures=("blur",)), Decision.MISMATCH)
    reopened = rescore(item.image, new_model, 0.10, quality_failures=("blur", "contrast"))
    assert reopened is not None
    assert reopened.reasons == ["quality"]  # the mismatch was ruled on; contrast is new


def test_another_text_is_a_new_question(new_model):
    item = ruled(scored_item(0.10), Decision.MISMATCH)
    product = item.image.product
    product.description = "Blue ceramic mug"
    product.save()
    reopened = rescore(item.image, new_model, 0.10)
    assert reopened is not None and "mismatch" in reopened.reasons


def test_a_match_verdict_settles_the_near_duplicate_pair(new_model):
    other = add_image(make_product("Plain mug", sku="PAIR-OTHER"), distinct_image(40))
    elsewhere = add_image(make_product("Plain lamp", sku="PAIR-THIRD"), distinct_image(41))
    item = scored_item(0.60, sku="PAIR-ONE")
    assert item is None  # a match, quality passed: not queued until flagged as a duplicate
    image = AnalysisResult.objects.current().get(image__product__sku="PAIR-ONE").image
    flagged = rescore(image, new_model, 0.60, duplicate_of=other)
    assert flagged.reasons == ["quality"]
    ruled(flagged)  # "Match": the pair is fine
    third = ModelVersion.objects.create(version="next-v3", name_or_path="n3", threshold=0.2)
    # The same pair under yet another model: settled.
    assert rescore(image, third, 0.55, duplicate_of=other) is None
    # The other image of the pair, flagged against this one: settled by the Match too.
    assert rescore(other, third, 0.55, duplicate_of=image) is None
    # A duplicate of another photo is a new question.
    fourth = ModelVersion.objects.create(version="next-v4", name_or_path="n4", threshold=0.2)
    reopened = rescore(image, fourth, 0.55, duplicate_of=elsewhere)
    assert reopened is not None and reopened.reasons == ["quality"]


def test_a_re_score_back_to_the_ruled_outcome_closes_the_re_opened_item(new_model):
    item = ruled(scored_item(0.26))
    reopened = rescore(item.image, new_model, 0.10)
    assert reopened is not None
    third = ModelVersion.objects.create(version="next-v3", name_or_path="n3", threshold=0.25)
    assert rescore(item.image, third, 0.27) is None
    reopened.refresh_from_db()
    assert reopened.state == ReviewItem.State.RESOLVED
    assert "nothing new since the verdict" in reopened.closed_reason


def test_re_activation_keeps_ruled_items_closed(
    scoring_model, other_clip_dir, reviewer, django_capture_on_commit_callbacks
):
    """The real path: analyse, rule, register and activate another model, re-score all."""
    ModelVersion.objects.filter(pk=scoring_model.pk).update(threshold=1.5)  # all mismatches
    with django_capture_on_commit_callbacks(execute=True):
        images = [
            add_image(make_product(f"Red cotton t-shirt {index}"), distinct_image(60 + index))
            for index in range(5)
        ]
    items = [ReviewItem.objects.open().get(image=image) for image in images]
    assert all("mismatch" in item.reasons for item in items)
    for item, decision in zip(items[:4], [Decision.MATCH, Decision.MISMATCH] * 2, strict=True):
        review.record_verdict(item, reviewer=reviewer, decision=decision)

    new_version = register_model(other_clip_dir)
    ModelVersion.objects.filter(pk=new_version.pk).update(threshold=1.5)  # still mismatches
    new_version.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=True):
        assert rescore_catalog(activate(new_version)) == 5

    current = AnalysisResult.objects.current().filter(image__in=images)
    assert {result.model_version_id for result in current} == {new_version.pk}
    assert all(result.status == AnalysisResult.Status.DONE for result in current)
    assert all(review.review_reasons(result) for result in current)  # each still flagged
    # Ruled on: nothing re-opens. The one nobody ruled on is still in the queue.
    assert list(ReviewItem.objects.open().values_list("image_id", flat=True)) == [images[4].pk]
