"""Verdict export: which rows, split by product, balancing, corrected texts, the command."""

import csv
import json
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from clipanalysis.csv_format import read_training_csv
from clipanalysis.models import AnalysisResult, Verdict
from tests.verdict_factories import open_item, product_with_images, rule
from training.export import export_verdicts

pytestmark = pytest.mark.django_db

CATEGORIES = ["t-shirt", "mug", "shoe", "lamp", "backpack", "watch", "chair", "bottle"]


def read_rows(path, root):
    return [(row.image_path, row.text, row.label) for row in read_training_csv(path, root)]


def read_both(output, settings):
    rows = {}
    for side in ("train", "val"):
        rows[side] = read_rows(output / f"{side}.csv", settings.MEDIA_ROOT)
    return rows


def test_rows_come_from_the_latest_verdicts_with_corrected_texts_and_no_bad_images(
    tmp_path, settings, reviewer
):
    _, (matched,) = product_with_images("Red cotton t-shirt", category="t-shirt", seed=1)
    _, (mismatched,) = product_with_images("Blue ceramic mug", category="mug", seed=2)
    _, (corrected,) = product_with_images("Green desk lamp", category="lamp", seed=3)
    _, (bad,) = product_with_images("Black leather shoe", category="shoe", seed=4)
    _, (changed_mind,) = product_with_images("Brown wooden chair", category="chair", seed=5)
    rule(matched, "match", reviewer=reviewer)
    rule(mismatched, "mismatch", reviewer=reviewer)
    rule(corrected, "mismatch", reviewer=reviewer, corrected="Yellow canvas backpack")
    rule(bad, "bad_image", reviewer=reviewer)
    first = rule(changed_mind, "match", reviewer=reviewer)
    # A later verdict on the same item (append-only): the newest one counts.
    Verdict.objects.create(
        review_item=first.review_item, result=first.result, decision="mismatch", reviewer=reviewer
    )

    summary = export_verdicts(tmp_path, val_fraction=0.0, balance=False)

    rows = set(read_rows(tmp_path / "train.csv", settings.MEDIA_ROOT))
    media = settings.MEDIA_ROOT.resolve()
    assert rows == {
        (media / matched.image.name, "Red cotton t-shirt", "match"),
        (media / mismatched.image.name, "Blue ceramic mug", "mismatch"),
        (media / corrected.image.name, "Green desk lamp", "mismatch"),
        (media / corrected.image.name, "Yellow canvas backpack", "match"),
        (media / changed_mind.image.name, "Brown wooden chair", "mismatch"),
    }
    assert summary.train.corrected == 1
    assert summary.verdicts_counted == 4
    assert summary.bad_image_excluded == 1
    assert summary.val.rows == 0


def test_split_keeps_every_product_on_one_side(tmp_path, settings, reviewer):
    image_product = {}
    for index in range(20):
        product, images = product_with_images(
            f"Product {index}", n_images=2, category=CATEGORIES[index % 8], seed=index
        )
        for position, image in enumerate(images):
            rule(image, "match" if (index + position) % 2 else "mismatch", reviewer=reviewer)
            image_product[image.image.name] = product.pk

    summary = export_verdicts(tmp_path, val_fraction=0.3, seed=7, balance=False)

    rows = read_both(tmp_path, settings)
    media = settings.MEDIA_ROOT.resolve()

    def products(side):
        return {image_product[str(path.relative_to(media))] for path, _, _ in rows[side]}

    assert products("train") and products("val")
    assert not products("train") & products("val")
    assert len(products("train") | products("val")) == 20
    assert summary.train.rows + summary.val.rows == 40
    assert 2 <= summary.val.products <= 12  # about 30 % of 20, by a hash
    # The same seed gives the same split; products stay on their side as verdicts grow.
    again = export_verdicts(tmp_path / "again", val_fraction=0.3, seed=7, balance=False)
    assert again.val.products == summary.val.products
    assert read_both(tmp_path / "again", settings) == rows


def test_lopsided_verdicts_are_balanced_with_other_products_texts(tmp_path, settings, reviewer):
    texts = {}
    for index in range(12):
        _, (image,) = product_with_images(
            f"Catalog text {index}", category=CATEGORIES[index % 8], seed=index
        )
        rule(image, "mismatch" if index < 2 else "match", reviewer=reviewer)
        texts[image.image.name] = f"Catalog text {index}"

    summary = export_verdicts(tmp_path, val_fraction=0.25, seed=3)

    media = settings.MEDIA_ROOT.resolve()
    for side_name, side in (("train", summary.train), ("val", summary.val)):
        rows = read_rows(tmp_path / f"{side_name}.csv", settings.MEDIA_ROOT)
        labels = [label for _, _, label in rows]
        assert labels.count("match") == labels.count("mismatch"), side_name
        assert side.sampled_negatives == side.match - (side.mismatch - side.sampled_negatives)
        side_texts = {texts[str(path.relative_to(media))] for path, _, _ in rows}
        for path, text, label in rows:
            own = texts[str(path.relative_to(media))]
            if label == "mismatch" and text != own:
                # A sampled negative: another product's text, from the same side of the split.
                assert text in side_texts
    assert summary.train.sampled_negatives > 0


def test_more_mismatches_than_matches_stay_unbalanced_and_say_so(tmp_path, reviewer):
    for index in range(4):
        _, (image,) = product_with_images(f"Text {index}", seed=index)
        rule(image, "match" if index == 0 else "mismatch", reviewer=reviewer)

    summary = export_verdicts(tmp_path, val_fraction=0.0)

    assert (summary.train.match, summary.train.mismatch) == (1, 3)
    assert summary.train.sampled_negatives == 0
    assert any("positives cannot be sampled" in note for note in summary.notes)


def test_since_leaves_out_older_verdicts(tmp_path, settings, reviewer):
    _, (old,) = product_with_images("Old verdict", seed=1)
    _, (new,) = product_with_images("New verdict", seed=2)
    rule(old, "match", reviewer=reviewer)
    rule(new, "match", reviewer=reviewer)
    Verdict.objects.filter(result__image=old).update(created_at=timezone.now() - timedelta(days=30))

    export_verdicts(tmp_path, val_fraction=0.0, since=timezone.now() - timedelta(days=1))

    rows = read_rows(tmp_path / "train.csv", settings.MEDIA_ROOT)
    assert [text for _, text, _ in rows] == ["New verdict"]


def test_missing_image_files_are_skipped_and_counted(tmp_path, reviewer):
    _, (kept,) = product_with_images("Kept", seed=1)
    _, (gone,) = product_with_images("Gone", seed=2)
    rule(kept, "match", reviewer=reviewer)
    rule(gone, "match", reviewer=reviewer)
    gone.image.storage.delete(gone.image.name)

    summary = export_verdicts(tmp_path, val_fraction=0.0)

    assert summary.missing_images == 1
    assert summary.train.rows == 1


def test_formula_like_texts_are_escaped_in_the_file_and_read_back_exactly(
    tmp_path, settings, reviewer
):
    _, (image,) = product_with_images("-20% off striped cotton t-shirt", seed=1)
    _, (other,) = product_with_images('=HYPERLINK("http://x") mug', seed=2)
    rule(image, "match", reviewer=reviewer)
    rule(other, "mismatch", reviewer=reviewer)

    export_verdicts(tmp_path, val_fraction=0.0, balance=False)

    with (tmp_path / "train.csv").open(encoding="utf-8", newline="") as handle:
        cells = [row[1] for row in csv.reader(handle)][1:]
    assert all(not cell.startswith(("=", "+", "-", "@")) for cell in cells)
    texts = {text for _, text, _ in read_rows(tmp_path / "train.csv", settings.MEDIA_ROOT)}
    assert texts == {"-20% off striped cotton t-shirt", '=HYPERLINK("http://x") mug'}


def test_export_json_records_the_root_counts_and_filters(tmp_path, settings, reviewer):
    _, (image,) = product_with_images("Red cotton t-shirt", seed=1)
    rule(image, "match", reviewer=reviewer)

    export_verdicts(tmp_path, val_fraction=0.0, seed=5)

    info = json.loads((tmp_path / "export.json").read_text())
    assert info["root"] == str(settings.MEDIA_ROOT.resolve())
    assert info["columns"] == ["image_path", "text", "label"]
    assert info["train"]["match"] == 1
    assert (info["seed"], info["val_fraction"], info["since"]) == (5, 0.0, None)


# --- the command ------------------------------------------------------------------------------
def test_export_command_prints_the_root_and_the_counts(tmp_path, settings, reviewer, capsys):
    for index in range(6):
        _, (image,) = product_with_images(f"Text {index}", category=CATEGORIES[index], seed=index)
        rule(image, "match", reviewer=reviewer)
    output = tmp_path / "export"

    call_command("export_training_csv", "--output", str(output), "--val-fraction", "0.3")

    out = capsys.readouterr().out
    assert f"Image paths are relative to {settings.MEDIA_ROOT.resolve()}" in out
    assert "train: " in out and "val: " in out
    assert "6 verdicts used" in out
    assert read_rows(output / "train.csv", settings.MEDIA_ROOT)
    assert read_rows(output / "val.csv", settings.MEDIA_ROOT)


def test_export_command_rejects_a_bad_date(tmp_path):
    with pytest.raises(CommandError, match="not a date"):
        call_command("export_training_csv", "--output", str(tmp_path), "--since", "yesterday")


def test_verdicts_on_older_results_use_the_text_that_was_scored(tmp_path, settings, reviewer):
    product, (image,) = product_with_images("First text", seed=1)
    rule(image, "mismatch", reviewer=reviewer)
    product.description = "Second text"
    product.save()
    assert AnalysisResult.objects.current().get(image=image).description == "Second text"
    open_item(AnalysisResult.objects.current().get(image=image))
    rule(image, "match", reviewer=reviewer)

    export_verdicts(tmp_path, val_fraction=0.0, balance=False)

    rows = {
        (text, label) for _, text, label in read_rows(tmp_path / "train.csv", settings.MEDIA_ROOT)
    }
    assert rows == {("First text", "mismatch"), ("Second text", "match")}


def test_export_command_passes_the_heldout_share_and_the_mix_through(
    tmp_path, settings, reviewer, capsys
):
    for index in range(6):
        _, (image,) = product_with_images(
            f"Red cotton {CATEGORIES[index]} number {index}", category=CATEGORIES[index], seed=index
        )
        rule(image, "match", reviewer=reviewer)
    output = tmp_path / "export"

    call_command(
        "export_training_csv",
        *("--output", str(output), "--val-fraction", "0", "--heldout-fraction", "0.5"),
        *("--attribute-swaps", "1", "--same-category-swaps", "0", "--swap-attributes", "colour"),
    )

    info = json.loads((output / "export.json").read_text())
    assert info["heldout_fraction"] == 0.5
    assert info["mix"]["attributes"] == ["colour"] and info["mix"]["attribute_swaps"] == 1
    assert info["mix"]["synthetic_replay"] == 0.0  # the tiny CLIP is no demo model
    assert info["test"]["products"] + info["train"]["products"] == 6
    assert info["train"]["hard_negatives"] == info["train"]["match"]
    rows = read_rows(output / "train.csv", settings.MEDIA_ROOT)
    swapped = [text for _, text, label in rows if label == "mismatch"]
    assert swapped and all("red" not in text.lower().split() for text in swapped)
    assert "hard negatives" in capsys.readouterr().out

    call_command("export_training_csv", "--output", str(output), "--no-mix")
    assert json.loads((output / "export.json").read_text())["mix"] is None


def test_export_command_rejects_an_unknown_swap_attribute(tmp_path):
    with pytest.raises(CommandError, match="Unknown attribute"):
        call_command("export_training_csv", "--output", str(tmp_path), "--swap-attributes", "size")


def test_replay_is_on_by_default_for_the_demo_model_and_its_fine_tunes(db):
    from clipanalysis.registry import activate, register_model
    from training.export import DEMO_SYNTHETIC_REPLAY, default_synthetic_replay

    demo = register_model("demo-model", source="demo")
    tuned = register_model("tuned-once", source="trained", base_model="demo-model")
    twice = register_model("tuned-twice", source="trained", base_model="tuned-once")
    other = register_model("someone/else", source="trained", base_model="openai/clip")
    for model, replay in ((demo, DEMO_SYNTHETIC_REPLAY), (twice, DEMO_SYNTHETIC_REPLAY)):
        activate(model, check=False)
        assert default_synthetic_replay() == replay
    activate(other, check=False)
    assert default_synthetic_replay() == 0.0
    assert tuned.base_model == "demo-model"
