"""The fine-tuning CSV: spreadsheet-safe cells that read back exactly, and validation that
reports every broken row with its number before anything trains."""

import csv
import os

import pytest
from PIL import Image

from clipanalysis.csv_format import (
    CsvValidationError,
    TrainingRow,
    default_root_dir,
    read_training_csv,
    write_training_csv,
)

TRICKY_TEXTS = [
    "-20% off striped cotton t-shirt",
    "=SUM(A1)",
    "+1 free mug",
    "@x handle",
    "'quoted",
    "''double quoted",
    "'",
    "\tleading tab",
    "\rleading carriage return",
    "it's a plain mug, with a comma",
    'a "quoted" word',
    "two\nlines",
    "Ünïcödé blue mug 🍵",
    "'plain text after a quote",
]


@pytest.fixture
def images(tmp_path):
    (tmp_path / "img").mkdir()
    for name, colour in (("red.png", (200, 0, 0)), ("blue.jpg", (0, 0, 200))):
        Image.new("RGB", (16, 16), colour).save(tmp_path / "img" / name)
    return tmp_path


def write_raw(path, text):
    path.write_text(text, encoding="utf-8", newline="")
    return path


def errors_of(path, root, **options):
    with pytest.raises(CsvValidationError) as caught:
        read_training_csv(path, root, **options)
    return caught.value.errors


def test_tricky_texts_round_trip_exactly(images):
    rows = [
        TrainingRow("img/red.png", text, "match" if i % 2 else "mismatch")
        for i, text in enumerate(TRICKY_TEXTS)
    ]
    write_training_csv(images / "train.csv", rows)

    read = read_training_csv(images / "train.csv", images)

    assert [row.text for row in read] == TRICKY_TEXTS
    assert [row.label for row in read] == [row.label for row in rows]
    assert all(row.image_path == (images / "img/red.png").resolve() for row in read)


def test_no_written_cell_starts_a_formula(images):
    rows = [TrainingRow("img/red.png", text, "match") for text in TRICKY_TEXTS]
    write_training_csv(images / "train.csv", rows)

    with (images / "train.csv").open(encoding="utf-8", newline="") as handle:
        cells = [cell for record in csv.reader(handle) for cell in record]

    assert not [cell for cell in cells if cell.startswith(("=", "+", "-", "@", "\t", "\r"))]
    assert "'-20% off striped cotton t-shirt" in cells
    assert "''quoted" in cells  # a text starting with ' is escaped too, so reading is exact


def test_hand_written_leading_quote_before_plain_text_is_kept(images):
    path = write_raw(images / "train.csv", "image_path,text,label\nimg/red.png,'tis red,match\n")

    assert read_training_csv(path, images)[0].text == "'tis red"


def test_formula_like_image_paths_round_trip(images):
    (images / "img" / "-sale.png").write_bytes((images / "img" / "red.png").read_bytes())
    write_training_csv(images / "train.csv", [TrainingRow("img/-sale.png", "red", "match")])

    (row,) = read_training_csv(images / "train.csv", images)

    assert row.image_path == (images / "img" / "-sale.png").resolve()


def test_rows_carry_spreadsheet_row_numbers(images):
    path = write_raw(
        images / "train.csv",
        'image_path,text,label\nimg/red.png,"two\nlines",match\n\nimg/blue.jpg,blue,mismatch\n',
    )

    rows = read_training_csv(path, images)

    assert [row.row_number for row in rows] == [2, 4]  # the blank line is row 3


def test_every_broken_row_is_reported_with_its_number_at_once(images, tmp_path_factory):
    outside = tmp_path_factory.mktemp("outside")
    Image.new("RGB", (8, 8)).save(outside / "secret.png")
    (images / "img" / "link.png").symlink_to(outside / "secret.png")
    (images / "img" / "broken.png").write_bytes(b"not an image at all")
    path = write_raw(
        images / "train.csv",
        "\n".join(
            [
                "image_path,text,label",
                "img/red.png,a red t-shirt,match",  # 2: fine
                "img/red.png,a red t-shirt",  # 3: missing column
                "img/red.png,a red t-shirt,match,extra",  # 4: extra column
                "img/red.png,a red t-shirt,maybe",  # 5: unknown label
                "img/red.png,   ,match",  # 6: empty text
                "img/missing.png,a red t-shirt,match",  # 7: no such image
                "img/broken.png,a red t-shirt,match",  # 8: not decodable
                "../outside.png,a red t-shirt,match",  # 9: escapes with ..
                f"{outside / 'secret.png'},a red t-shirt,match",  # 10: absolute
                "img/link.png,a red t-shirt,match",  # 11: symlink out of the root
                ",a red t-shirt,match",  # 12: empty path
                "img/blue.jpg,,nope",  # 13: two problems
            ]
        )
        + "\n",
    )

    errors = errors_of(path, images)

    by_row = {}
    for row, message in errors:
        by_row.setdefault(row, []).append(message)
    assert sorted(by_row) == [3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13]
    assert "found 2" in by_row[3][0]
    assert "found 4" in by_row[4][0]
    assert "'maybe'" in by_row[5][0]
    assert "text is empty" in by_row[6][0]
    assert "does not exist" in by_row[7][0]
    assert "cannot be read" in by_row[8][0]
    assert "'..'" in by_row[9][0]
    assert "absolute" in by_row[10][0]
    assert "outside the root" in by_row[11][0]
    assert "image_path is empty" in by_row[12][0]
    assert len(by_row[13]) == 2
    message = str(CsvValidationError(errors, path))
    assert "row 3:" in message and "row 13:" in message


def test_windows_style_escapes_are_refused(images):
    path = write_raw(
        images / "train.csv",
        "image_path,text,label\nimg\\..\\..\\x.png,red,match\nC:\\x.png,red,match\n",
    )

    errors = errors_of(path, images)

    assert [row for row, _ in errors] == [2, 3]


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("image_path,text", "missing column(s): label"),
        ("image_path,text,label,notes", "unexpected column(s): notes"),
        ("image,text,label", "missing column(s): image_path"),
        ("image_path,text,text", "repeated column(s): text"),
    ],
)
def test_bad_headers_are_reported_on_row_1(images, header, expected):
    path = write_raw(images / "train.csv", f"{header}\nimg/red.png,red,match\n")

    errors = errors_of(path, images)

    assert all(row == 1 for row, _ in errors)
    assert any(expected in message for _, message in errors)


def test_columns_may_come_in_any_order_and_excel_bom_is_accepted(images):
    path = images / "train.csv"
    path.write_bytes("\ufefflabel,text,image_path\r\nMatch,red,img/red.png\r\n".encode())

    (row,) = read_training_csv(path, images)

    assert (row.label, row.text, row.image_path.name) == ("match", "red", "red.png")


def test_non_utf8_file_is_reported_with_its_line(images):
    path = images / "train.csv"
    path.write_bytes(b"image_path,text,label\nimg/red.png,red,match\nimg/red.png,caf\xe9,match\n")

    assert errors_of(path, images) == [(3, "the file is not UTF-8 text (save it as 'CSV UTF-8').")]


def test_empty_file_and_header_only_file(images):
    empty = write_raw(images / "empty.csv", "")
    header_only = write_raw(images / "header.csv", "image_path,text,label\n")

    assert errors_of(empty, images)[0][0] == 1
    assert read_training_csv(header_only, images) == []


def test_scoring_files_may_leave_the_label_out(images):
    unlabelled = write_raw(images / "a.csv", "image_path,text\nimg/red.png,red\n")
    partly = write_raw(images / "b.csv", "image_path,text,label\nimg/red.png,red,\n")

    assert read_training_csv(unlabelled, images, require_label=False)[0].label == ""
    assert read_training_csv(partly, images, require_label=False)[0].label == ""
    assert errors_of(partly, images)[0][0] == 2  # a training file needs the label


def test_writing_an_unknown_label_fails(tmp_path):
    with pytest.raises(ValueError, match="Unknown label"):
        write_training_csv(tmp_path / "x.csv", [TrainingRow("a.png", "red", "yes")])


def test_default_root_is_the_csv_folder_whatever_a_file_beside_it_says(tmp_path):
    # Issue 16: an export.json beside a CSV could move the root to "/" and read any image.
    plain = tmp_path / "plain"
    exported = tmp_path / "exported"
    plain.mkdir()
    exported.mkdir()
    (exported / "export.json").write_text('{"image_paths_relative_to": "/"}')

    assert default_root_dir(plain / "train.csv") == plain.resolve()
    assert default_root_dir(exported / "train.csv") == exported.resolve()
    assert str(default_root_dir(exported / "train.csv")) != os.path.normpath("/")
