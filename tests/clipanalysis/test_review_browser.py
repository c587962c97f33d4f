"""A reviewer works the queue in headless Chromium: button, keyboard, next item.

Needs Debian's ``chromium`` (``apt-get install chromium chromium-driver``);
skipped, with the reason printed, only where /usr/bin/chromium is absent.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from catalog.models import Product
from clipanalysis import review
from clipanalysis.models import ReviewItem, Verdict
from tests.factories import add_image, image_bytes, make_product, packshot

CHROMIUM = Path("/usr/bin/chromium")

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def browser_page(monkeypatch):
    if not CHROMIUM.exists():
        reason = f"{CHROMIUM} not found: install the Debian packages chromium and chromium-driver"
        print(f"SKIPPED browser test: {reason}")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; the ORM calls the
    # test makes between page actions are still plain synchronous calls.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.set_default_timeout(15_000)
        yield page
        browser.close()


@pytest.fixture
def queue(reviewer) -> list[ReviewItem]:
    """Four products whose images the tiny model scores as mismatches, in queue order."""
    review.ensure_reviewers_group()  # a transactional test starts from a flushed database
    colours = [(200, 30, 30), (30, 30, 200), (30, 160, 30), (220, 180, 20)]
    for index, colour in enumerate(colours):
        product = make_product(f"Striped cotton t-shirt no. {index}", sku=f"SKU-BROWSER-{index}")
        add_image(product, image_bytes(packshot(colour)))  # analysed inline
    items = list(review.review_queue())
    assert len(items) == 4, "every image should be a mismatch for the random tiny model"
    return items


def review_path(item: ReviewItem) -> str:
    return f"/admin/clipanalysis/reviewitem/{item.pk}/review/"


def test_reviewer_records_verdicts_with_button_and_keyboard(browser_page, live_server, queue):
    page = browser_page
    first, second, third, fourth = queue

    # Log in as the reviewer and open the queue.
    page.goto(f"{live_server.url}/admin/login/?next=/admin/clipanalysis/reviewitem/")
    page.fill("#id_username", "rita")
    page.fill("#id_password", "review-pass-123")
    page.click("input[type=submit]")
    page.wait_for_url(re.compile(r"/admin/clipanalysis/reviewitem/$"))
    assert page.locator("#result_list tbody tr").count() == 4
    assert "SKU-BROWSER" in page.locator("#result_list").inner_text()

    # Start: the top item opens.
    page.click("#start-reviewing")
    page.wait_for_url(re.compile(re.escape(review_path(first)) + "$"))
    assert page.locator("#scored-description").inner_text() == first.result.description

    # The Match button records a verdict and lands on the next item.
    page.click("button[value=match]")
    page.wait_for_url(re.compile(re.escape(review_path(second)) + "$"))
    assert "Match recorded for" in page.locator(".messagelist").inner_text()

    # The keyboard: X records a mismatch and lands on the next item.
    page.keyboard.press("x")
    page.wait_for_url(re.compile(re.escape(review_path(third)) + "$"))
    assert "Mismatch recorded for" in page.locator(".messagelist").inner_text()

    # Typing in the comment box is not a shortcut; Esc leaves it, then B is.
    page.click("#id_comment")
    page.keyboard.type("bmx torn label")
    assert page.url.endswith(review_path(third))
    page.keyboard.press("Escape")
    page.keyboard.press("b")
    page.wait_for_url(re.compile(re.escape(review_path(fourth)) + "$"))

    # A double click on the last item records one verdict, then the empty queue.
    page.dblclick("button[value=match]")
    page.wait_for_url(re.compile(r"/admin/clipanalysis/reviewitem/(\?.*)?$"))
    assert "The review queue is empty" in page.locator(".messagelist").inner_text()

    decisions = {
        verdict.review_item_id: (verdict.decision, verdict.reviewer.username, verdict.comment)
        for verdict in Verdict.objects.select_related("reviewer")
    }
    assert decisions == {
        first.pk: ("match", "rita", ""),
        second.pk: ("mismatch", "rita", ""),
        third.pk: ("bad_image", "rita", "bmx torn label"),
        fourth.pk: ("match", "rita", ""),
    }
    assert not ReviewItem.objects.open().exists()


def test_reviewer_corrects_a_description_in_the_browser(browser_page, live_server, queue):
    page = browser_page
    first = queue[0]
    page.goto(f"{live_server.url}/admin/login/?next={review_path(first)}")
    page.fill("#id_username", "rita")
    page.fill("#id_password", "review-pass-123")
    page.click("input[type=submit]")
    page.wait_for_url(re.compile(re.escape(review_path(first)) + "$"))

    # Empty text: a clear message on the same item, nothing saved.
    page.fill("#id_corrected_description", "   ")
    page.click("button.review-correct")
    page.wait_for_load_state()
    assert "The corrected description is empty" in page.locator(".review-error").inner_text()
    assert page.url.endswith(review_path(first))

    # E focuses the editor; Ctrl+Enter saves and re-scores, then the next item opens.
    page.keyboard.press("e")
    page.keyboard.type("Blue ceramic mug, 350 ml")
    page.keyboard.press("Control+Enter")
    page.wait_for_url(re.compile(re.escape(review_path(queue[1])) + "$"))
    product = Product.objects.get(pk=first.image.product_id)
    assert product.description == "Blue ceramic mug, 350 ml"
    verdict = Verdict.objects.get()
    assert (verdict.decision, verdict.corrected_description) == (
        "mismatch",
        "Blue ceramic mug, 350 ml",
    )


def in_viewport(page, selector: str) -> bool:
    """The whole element lies inside the window, without scrolling."""
    box = page.locator(selector).bounding_box()
    size = page.viewport_size
    return (
        box is not None
        and box["x"] >= 0
        and box["y"] >= 0
        and box["x"] + box["width"] <= size["width"]
        and box["y"] + box["height"] <= size["height"]
    )


def test_mis_key_then_u_then_the_right_key_at_1280x800(browser_page, live_server, queue):
    page = browser_page
    page.set_viewport_size({"width": 1280, "height": 800})
    first, second = queue[0], queue[1]
    page.goto(f"{live_server.url}/admin/login/?next={review_path(first)}")
    page.fill("#id_username", "rita")
    page.fill("#id_password", "review-pass-123")
    page.click("input[type=submit]")
    page.wait_for_url(re.compile(re.escape(review_path(first)) + "$"))
    for selector in ("button[value=match]", "button[value=mismatch]", "button[value=bad_image]"):
        assert in_viewport(page, selector), f"{selector} is below the fold at 1280×800"
    assert in_viewport(page, ".review-undo-button")

    # Click to zoom: the image opens over the page at full resolution; Esc closes it.
    page.click(".review-zoom")
    assert page.locator(".review-image.zoomed").count() == 1
    page.keyboard.press("Escape")
    assert page.locator(".review-image.zoomed").count() == 0

    # A mis-key: M, and auto-advance lands on the next item.
    page.keyboard.press("m")
    page.wait_for_url(re.compile(re.escape(review_path(second)) + "$"))
    # U takes it back and returns to the mis-keyed item, open again for rita.
    page.keyboard.press("u")
    page.wait_for_url(re.compile(re.escape(review_path(first)) + "$"))
    assert "Verdict undone for" in page.locator(".messagelist").inner_text()
    assert in_viewport(page, "button[value=mismatch]")
    # The right key now.
    page.keyboard.press("x")
    page.wait_for_url(re.compile(re.escape(review_path(second)) + "$"))

    first.refresh_from_db()
    assert first.latest_verdict.decision == "mismatch"
    verdicts = Verdict.objects.filter(review_item=first).order_by("created_at", "id")
    assert [(v.decision, v.retracted_at is not None) for v in verdicts] == [
        ("match", True),
        ("mismatch", False),
    ]


def test_the_queue_fits_a_1280x800_window(browser_page, live_server, queue):
    page = browser_page
    page.set_viewport_size({"width": 1280, "height": 800})
    changelist = "/admin/clipanalysis/reviewitem/"
    page.goto(f"{live_server.url}/admin/login/?next={changelist}")
    page.fill("#id_username", "rita")
    page.fill("#id_password", "review-pass-123")
    page.click("input[type=submit]")
    page.wait_for_url(re.compile(re.escape(changelist) + "$"))

    table = page.locator("#result_list").bounding_box()
    assert table is not None and table["x"] >= 0
    filters = page.locator("#changelist-filter").bounding_box()
    right_edge = filters["x"] if filters else 1280
    assert table["x"] + table["width"] <= right_edge, f"the queue table overflows: {table}"
    assert page.evaluate("document.documentElement.scrollWidth") <= 1280
    assert page.locator("#result_list tbody tr").count() == len(queue)
    assert page.locator("th.column-why").count() == 1  # no column was dropped to fit
    why = page.locator("#result_list tbody td.field-why").first.bounding_box()
    assert why is not None and why["width"] >= 130  # readable, not squeezed to fit
