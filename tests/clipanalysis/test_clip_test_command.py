"""``manage.py clip_test``: one image against one text, seed-style status line."""

import re
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from PIL import Image

from clipanalysis.clip_service import ClipService

pytestmark = pytest.mark.django_db


@pytest.fixture
def red_image(tmp_path):
    path = tmp_path / "red.png"
    Image.new("RGB", (40, 30), (200, 20, 20)).save(path)
    return path


def test_prints_the_status_line_with_the_score(red_image, tiny_clip_dir, clean_clip_services):
    out = StringIO()

    call_command("clip_test", image=str(red_image), text="red mug", threshold=0.0, stdout=out)

    expected = ClipService.load(tiny_clip_dir, device="cpu", dtype="float32").compute_similarity(
        Image.open(red_image).convert("RGB"), "red mug"
    )
    first_line = out.getvalue().splitlines()[0]
    assert first_line == f"Match (score: {expected:.3f})"


def test_zero_shot_lists_the_labels(red_image, tiny_clip_dir):
    out = StringIO()

    call_command(
        "clip_test",
        image=str(red_image),
        text="red mug",
        threshold=1.0,
        zero_shot=True,
        labels="mug,shoe",
        model=str(tiny_clip_dir),
        stdout=out,
    )

    lines = out.getvalue().splitlines()
    assert re.fullmatch(r"Mismatch \(score: \d\.\d{3}\)", lines[0])
    assert sorted(line.split()[0] for line in lines[2:]) == ["mug", "shoe"]


def test_unreadable_image_is_a_command_error(tmp_path, tiny_clip_dir):
    (tmp_path / "x.png").write_bytes(b"nope")

    with pytest.raises(CommandError, match=r"x\.png"):
        call_command(
            "clip_test", image=str(tmp_path / "x.png"), text="red", model=str(tiny_clip_dir)
        )
