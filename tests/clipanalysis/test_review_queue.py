"""The review queue: opening, re-scoring, closing, verdicts and their history.

Unit tests drive ``clipanalysis.review`` with results whose scores they choose
(``scored_item``); the integration tests at the end go through the real
pipeline (save → analyse → open item) with the tiny CLIP model.
"""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User

from catalog.models import Product
from clipanalysis import review
from clipanalysis.models import AnalysisResult, ReviewItem, Verdict
from tests.factories import add_image, make_product

pytestmark = pytest.mark.django_db

State = ReviewItem.State


# --- helpers shared by the review test modules ----------------------------------
def finish_analysis(
    image,
    score: float,
    *,
    threshold: float = 0.25,
    quality_failures: tuple[str, ...] = (),
    zero_shot_label: str = "t-shirt",
    model_version=None,
) -> AnalysisResult:
    """Write a finished analysis onto the image's current result, as the pipeline would."""
    result = AnalysisResult.objects.current().get(image=image)
    result.status = AnalysisResult.Status.DONE
    result.similarity_score = score
    result.threshold = threshold
    result.is_match = score >= threshold
    result.quality_failures = list(quality_failures)
    result.quality_passed = not quality_failures
    result.quality = {
        "checks": [
            {"name": name, "value": 1.0, "passed": False, "limit": "≥ 2", "blocking": True}
            for name in quality_failures
        ]
        + [
            {
                "name": "resolution",
                "value": 640.0,
                "passed": True,
                "limit": "≥ 256",
                "blocking": True,
            }
        ]
    }
    result.zero_shot_label = zero_shot_label
    result.zero_shot_results = {zero_shot_label: 0.7, "mug": 0.2}
    if model_version is not None:
        result.model_version = model_version
    result.save()
    return result


def scored_item(
    score: float = 0.1,
    *,
    description: str = "Red cotton t-shirt with stripes",
    sku: str | None = None,
    category: str = "t-shirt",
    **kwargs,
) -> ReviewItem | None:
    """A product with one image whose analysis finished with ``score``; its review item."""
    product = make_product(description, sku=sku, category=category)
    image = add_image(product)  # no analysis runs: on_commit never fires in these tests
    return review.sync_review_item(finish_analysis(image, score, **kwargs))


def rescore(item_or_image, score: float, **kwargs) -> ReviewItem | None:
    image = item_or_image.image if isinstance(item_or_image, ReviewItem) else item_or_image
    return review.sync_review_item(finish_analysis(image, score, **kwargs))


@pytest.fixture
def second_reviewer(reviewer) -> User:
    other = User.objects.create_user("omar", "omar@example.com", "review-pass-456", is_staff=True)
    other.groups.add(*reviewer.groups.all())
    return other


# --- opening --------------------------------------------------------------------
def test_mismatch_opens_review_item_with_reason_and_priority():
    item = scored_item(0.10)
    assert item.state == State.OPEN
    assert item.reasons == ["mismatch"]
    assert item.primary_reason == "mismatch"
    # Uncalibrated: 0.5 + margin / 2 on the P(match) scale; uncertainty is |margin|.
    assert item.priority == pytest.approx(0.425)
    assert item.uncertainty == pytest.approx(0.15)


def test_clear_match_opens_nothing():
    assert scored_item(0.60) is None
    assert not ReviewItem.objects.exists()


def test_uncertain_match_inside_band_opens_item(settings):
    settings.REVIEW_UNCERTAINTY_BAND = 0.05
    item = scored_item(0.27)
    assert item.reasons == ["uncertain"]
    assert item.uncertainty == pytest.approx(0.02)


def test_uncertain_band_is_configurable(settings):
    settings.REVIEW_UNCERTAINTY_BAND = 0.01
    assert scored_item(0.27) is None


def test_blocking_quality_failure_opens_item_even_on_a_match():
    item = scored_item(0.80, quality_failures=("blur",))
    assert item.reasons == ["quality"]


def test_all_reasons_are_kept():
    item = scored_item(0.24, quality_failures=("resolution",))
    assert item.reasons == ["mismatch", "uncertain", "quality"]


def test_one_open_item_per_image_across_rescores():
    item = scored_item(0.10)
    again = rescore(item, 0.05)
    assert again.pk == item.pk
    assert ReviewItem.objects.open().filter(image=item.image).count() == 1
    item.refresh_from_db()
    assert item.priority == pytest.approx(0.40)
    assert item.uncertainty == pytest.approx(0.20)


# --- re-scoring and closing -----------------------------------------------------
def test_rescore_that_matches_closes_item_with_reason():
    item = scored_item(0.10)
    assert rescore(item, 0.70) is None
    item.refresh_from_db()
    assert item.state == State.RESOLVED
    assert item.resolved_at is not None
    assert item.closed_reason.startswith("Re-scored: Match (score: 0.700)")
    assert not item.verdicts.exists()


def test_verdict_on_an_auto_closed_item_is_refused_with_the_reason(reviewer):
    item = scored_item(0.10)
    rescore(item, 0.70)
    with pytest.raises(review.AlreadyResolved, match=r"already closed .*Re-scored"):
        review.record_verdict(item, reviewer=reviewer, decision="match")
    assert not Verdict.objects.exists()


def test_rescore_after_verdict_on_another_analysis_opens_a_new_item(reviewer):
    item = scored_item(0.10)
    review.record_verdict(item, reviewer=reviewer, decision="mismatch")
    image = item.image
    Product.objects.filter(pk=image.product_id).update(description="Blue mug")
    # A new analysis (new text) that still mismatches needs a human again.
    from clipanalysis.pipeline import request_analysis

    request_analysis([image.pk])
    new_item = rescore(image, 0.12)
    assert new_item is not None and new_item.pk != item.pk
    assert new_item.state == State.OPEN


def test_same_analysis_already_ruled_on_does_not_reopen(reviewer):
    item = scored_item(0.10)
    review.record_verdict(item, reviewer=reviewer, decision="mismatch")
    assert review.sync_review_item(item.result) is None
    assert ReviewItem.objects.count() == 1


# --- verdicts -------------------------------------------------------------------
def test_record_verdict_resolves_item_and_keeps_who_and_when(reviewer):
    item = scored_item(0.10)
    verdict = review.record_verdict(
        item, reviewer=reviewer, decision="bad_image", comment="  blurry  "
    )
    item.refresh_from_db()
    assert item.state == State.RESOLVED
    assert item.assigned_to == reviewer
    assert item.resolved_at == verdict.created_at
    assert verdict.result == item.result
    assert verdict.decision == "bad_image"
    assert verdict.comment == "blurry"
    assert verdict.reviewer == reviewer
    assert item.latest_verdict == verdict


def test_second_verdict_on_same_item_is_refused_not_duplicated(reviewer, second_reviewer):
    item = scored_item(0.10)
    stale_copy = ReviewItem.objects.get(pk=item.pk)  # what the other request loaded
    review.record_verdict(item, reviewer=reviewer, decision="match")
    with pytest.raises(review.AlreadyResolved) as raised:
        review.record_verdict(stale_copy, reviewer=second_reviewer, decision="mismatch")
    assert "already resolved by rita" in raised.value.message
    assert "(Match)" in raised.value.message
    assert Verdict.objects.count() == 1


def test_double_click_records_one_verdict(reviewer):
    item = scored_item(0.10)
    review.record_verdict(item, reviewer=reviewer, decision="match")
    with pytest.raises(review.AlreadyResolved):
        review.record_verdict(item, reviewer=reviewer, decision="match")
    assert Verdict.objects.count() == 1


@pytest.mark.parametrize("decision", ["", "maybe", "MATCH"])
def test_unknown_decision_is_refused(reviewer, decision):
    item = scored_item(0.10)
    with pytest.raises(review.InvalidVerdict, match="Unknown decision"):
        review.record_verdict(item, reviewer=reviewer, decision=decision)
    item.refresh_from_db()
    assert item.state == State.OPEN
    assert not Verdict.objects.exists()


def test_overlong_comment_is_refused(reviewer):
    item = scored_item(0.10)
    with pytest.raises(review.InvalidVerdict, match="comment is 2,001 characters"):
        review.record_verdict(item, reviewer=reviewer, decision="match", comment="x" * 2001)


def test_verdict_history_is_append_only_and_latest_counts(reviewer, second_reviewer):
    first_item = scored_item(0.10)
    first = review.record_verdict(first_item, reviewer=reviewer, decision="mismatch")
    # The catalog changes the text; the new analysis is doubtful again.
    Product.objects.filter(pk=first_item.image.product_id).update(description="Striped shirt")
    from clipanalysis.pipeline import request_analysis

    request_analysis([first_item.image_id])
    second_item = rescore(first_item.image, 0.24)
    second = review.record_verdict(second_item, reviewer=second_reviewer, decision="match")

    history = list(review.latest_verdicts_for_image(first_item.image_id))
    assert history == [second, first]
    first.refresh_from_db()
    assert first.decision == "mismatch"  # the earlier verdict is untouched


# --- corrected descriptions -----------------------------------------------------
def test_correct_description_updates_product_and_records_mismatch(reviewer):
    item = scored_item(0.10, description="Red cotton t-shirt")
    verdict = review.correct_description(
        item, reviewer=reviewer, text="  Blue ceramic mug, 350 ml \n", comment="wrong text"
    )
    product = Product.objects.get(pk=item.image.product_id)
    assert product.description == "Blue ceramic mug, 350 ml"
    assert verdict.decision == "mismatch"
    assert verdict.corrected_description == "Blue ceramic mug, 350 ml"
    assert verdict.result.description == "Red cotton t-shirt"  # the old text is the mismatch
    item.refresh_from_db()
    assert item.state == State.RESOLVED


@pytest.mark.parametrize("text", ["", "   \n\t "])
def test_empty_corrected_description_is_refused(reviewer, text):
    item = scored_item(0.10, description="Red cotton t-shirt")
    with pytest.raises(review.InvalidVerdict, match="empty"):
        review.correct_description(item, reviewer=reviewer, text=text)
    assert Product.objects.get(pk=item.image.product_id).description == "Red cotton t-shirt"
    assert not Verdict.objects.exists()


def test_ten_thousand_character_description_is_refused(reviewer):
    item = scored_item(0.10, description="Red cotton t-shirt")
    with pytest.raises(review.InvalidVerdict, match="10,000 characters long; the limit is 5,000"):
        review.correct_description(item, reviewer=reviewer, text="a" * 10_000)
    assert Product.objects.get(pk=item.image.product_id).description == "Red cotton t-shirt"
    item.refresh_from_db()
    assert item.state == State.OPEN


def test_description_at_the_limit_is_accepted(reviewer):
    item = scored_item(0.10)
    verdict = review.correct_description(item, reviewer=reviewer, text="b" * 5000)
    assert len(verdict.corrected_description) == 5000


def test_corrected_description_equal_to_scored_text_is_refused(reviewer):
    item = scored_item(0.10, description="Red cotton t-shirt")
    with pytest.raises(review.InvalidVerdict, match="Match or Mismatch"):
        review.correct_description(item, reviewer=reviewer, text=" Red cotton t-shirt ")


def test_correction_on_resolved_item_changes_nothing(reviewer, second_reviewer):
    item = scored_item(0.10, description="Red cotton t-shirt")
    stale_copy = ReviewItem.objects.get(pk=item.pk)
    review.record_verdict(item, reviewer=reviewer, decision="match")
    with pytest.raises(review.AlreadyResolved):
        review.correct_description(stale_copy, reviewer=second_reviewer, text="Blue mug")
    assert Product.objects.get(pk=item.image.product_id).description == "Red cotton t-shirt"
    assert Verdict.objects.count() == 1


# --- moving through the queue ---------------------------------------------------
def test_queue_order_is_most_likely_problem_first_then_newest():
    far = scored_item(0.01)
    near_old = scored_item(0.20)
    near_new = scored_item(0.20)
    nearest = scored_item(0.24)
    assert list(review.review_queue()) == [far, near_new, near_old, nearest]


def test_uncertainty_order_is_closest_to_threshold_then_newest(settings):
    far = scored_item(0.01)
    near_old = scored_item(0.20)
    near_new = scored_item(0.20)
    nearest = scored_item(0.24)
    assert list(review.review_queue(order="uncertain")) == [nearest, near_new, near_old, far]
    settings.REVIEW_QUEUE_ORDER = "uncertain"
    assert list(review.review_queue()) == [nearest, near_new, near_old, far]


def test_calibrated_probability_orders_the_queue_and_measured_quality_failures_lead():
    likely_match = scored_item(0.10)
    likely_mismatch = scored_item(0.20)
    blurry = scored_item(0.24, quality_failures=("blur",))
    for item, probability in ((likely_match, 0.45), (likely_mismatch, 0.05)):
        AnalysisResult.objects.filter(pk=item.result_id).update(match_probability=probability)
    assert review.refresh_priorities() == 2
    assert list(review.review_queue()) == [blurry, likely_mismatch, likely_match]
    assert ReviewItem.objects.get(pk=likely_mismatch.pk).priority == pytest.approx(0.05)


def test_a_near_duplicate_guess_does_not_jump_the_queue():
    mismatch = scored_item(0.10)
    duplicate_guess = scored_item(0.24, quality_failures=("duplicate",))
    assert list(review.review_queue()) == [mismatch, duplicate_guess]


def test_next_item_walks_the_queue_and_wraps(reviewer):
    far, near = scored_item(0.01), scored_item(0.20)
    assert review.next_item_for(reviewer) == far
    assert review.next_item_for(reviewer, after=far) == near
    assert review.next_item_for(reviewer, after=near) == far  # back to the top


def test_next_item_skips_resolved_and_items_held_by_others(reviewer, second_reviewer):
    first, second, third = scored_item(0.10), scored_item(0.20), scored_item(0.24)
    review.record_verdict(first, reviewer=reviewer, decision="match")
    review.claim_item(second, second_reviewer)
    assert review.next_item_for(reviewer, after=first) == third
    assert review.next_item_for(second_reviewer) == second


def test_next_item_is_none_when_queue_is_empty(reviewer):
    item = scored_item(0.10)
    review.record_verdict(item, reviewer=reviewer, decision="match")
    assert review.next_item_for(reviewer) is None
    assert review.next_item_for(reviewer, after=item) is None


def test_claim_and_release(reviewer):
    item = scored_item(0.10)
    review.claim_item(item, reviewer)
    assert (item.state, item.assigned_to) == (State.IN_REVIEW, reviewer)
    review.release_item(item, reviewer)
    item.refresh_from_db()
    assert (item.state, item.assigned_to) == (State.OPEN, None)


def test_claiming_a_resolved_item_is_refused(reviewer):
    item = scored_item(0.10)
    review.record_verdict(item, reviewer=reviewer, decision="mismatch")
    with pytest.raises(review.AlreadyResolved):
        review.claim_item(item, reviewer)


# --- through the real pipeline --------------------------------------------------
@pytest.mark.django_db(transaction=True)
def test_saved_product_with_mismatching_image_lands_in_queue():
    product = make_product("Red cotton t-shirt")
    image = add_image(product)  # the tiny random CLIP scores ~0: a mismatch
    result = AnalysisResult.objects.current().get(image=image)
    assert result.status == AnalysisResult.Status.DONE, result.error
    item = ReviewItem.objects.open().get(image=image)
    assert "mismatch" in item.reasons
    assert item.result == result


@pytest.mark.django_db(transaction=True)
def test_corrected_description_rescores_without_reopening(reviewer):
    product = make_product("Red cotton t-shirt")
    image = add_image(product)
    item = ReviewItem.objects.open().get(image=image)
    review.correct_description(item, reviewer=reviewer, text="Blue ceramic mug")

    current = AnalysisResult.objects.current().get(image=image)
    assert current.description == "Blue ceramic mug"
    assert current.status == AnalysisResult.Status.DONE
    assert current.pk != item.result_id
    # Still a mismatch for the random model, but a reviewer just ruled on this text.
    assert not ReviewItem.objects.open().filter(image=image).exists()


@pytest.mark.django_db(transaction=True)
def test_description_edit_by_catalog_updates_the_open_item():
    product = make_product("Red cotton t-shirt")
    image = add_image(product)
    item = ReviewItem.objects.open().get(image=image)
    product.description = "Green leather backpack"
    product.save()
    item.refresh_from_db()
    assert item.state == State.OPEN
    assert item.result.description == "Green leather backpack"
    assert ReviewItem.objects.filter(image=image).count() == 1
