"""The fine-tuning CSV: ``image_path,text,label`` with ``label`` ``match`` or ``mismatch``.

Why a module of its own: the export writes these files, operators open them in
a spreadsheet to check or edit them, and training reads them back. Three rules
keep that safe:

1. **Spreadsheet-safe cells.** A cell starting with ``= + - @``, a tab or a
   carriage return runs as a formula in Excel/LibreOffice (CSV injection).
   On write such a cell gets one leading single quote (``'=SUM(A1)``), which
   spreadsheets treat as "this is text" (OWASP's advice). A cell that itself
   starts with ``'`` gets one more (``''quoted``) so reading is unambiguous.
   On read exactly one leading ``'`` is stripped when the next character is a
   formula trigger or another ``'``; anything else is kept as written. So
   every text round-trips exactly: ``-20% off`` trains as ``-20% off``.
2. **Every row is checked before anything trains**: column count, label,
   empty text, image path inside the root, image present and decodable. All
   problems come back at once in ``CsvValidationError`` with row numbers as a
   spreadsheet shows them (the header is row 1, the first data row is row 2).
3. **Paths are relative to a root**: the command line's ``--root-dir``
   (``MEDIA_ROOT`` for exports) or the CSV's own folder, never a location a
   file beside the CSV names. Absolute paths, ``..``, symlinks that lead
   outside the root, NUL characters and paths over 1,024 characters are
   refused, so a CSV cannot make training read arbitrary files.

Files are UTF-8 without a byte-order mark (other tools read them as they are);
the reader also accepts one, as Excel writes it.

Pure core: no Django.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath, PureWindowsPath

from catalog.imaging import BadImageError, decode_image

COLUMNS = ("image_path", "text", "label")
MATCH, MISMATCH = "match", "mismatch"
LABELS = (MATCH, MISMATCH)
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
ESCAPE = "'"
EXPORT_INFO_FILENAME = "export.json"  # written by training.export beside train.csv / val.csv
IMAGE_PATH_MAX_CHARS = 1024


@dataclass(frozen=True)
class TrainingRow:
    """One labelled image–text pair. ``image_path`` is resolved when read from a file."""

    image_path: Path | str
    text: str
    label: str
    row_number: int = 0

    @property
    def is_match(self) -> bool:
        return self.label == MATCH


class CsvValidationError(ValueError):
    """Every problem of a CSV file as ``(row_number, message)`` pairs.

    Row 1 is the header, row 2 the first data row; row 0 means the file as a whole
    (it cannot be read at all).
    """

    def __init__(self, errors: list[tuple[int, str]], path: str | Path | None = None) -> None:
        self.errors = list(errors)
        self.path = path
        super().__init__(self.describe())

    def describe(self) -> str:
        where = f"{self.path}: " if self.path else ""
        lines = [f"{where}{len(self.errors)} problem(s) in the CSV file:"]
        lines += [f"  row {row}: {message}" for row, message in self.errors]
        return "\n".join(lines)


# --- cells -------------------------------------------------------------------------------
def escape_cell(value: str) -> str:
    """Prefix ``'`` to a cell a spreadsheet would run as a formula (or that starts with ``'``)."""
    if value.startswith((*FORMULA_TRIGGERS, ESCAPE)):
        return ESCAPE + value
    return value


def unescape_cell(value: str) -> str:
    """Undo ``escape_cell``: strip exactly one ``'`` that guards a trigger or another ``'``."""
    if len(value) > 1 and value[0] == ESCAPE and value[1] in (*FORMULA_TRIGGERS, ESCAPE):
        return value[1:]
    return value


# --- writing -----------------------------------------------------------------------------
def write_training_csv(path: str | Path, rows: Iterable[TrainingRow]) -> int:
    """Write rows (image paths as given, relative to the root) and return how many."""
    count = 0
    with Path(path).open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        for row in rows:
            if row.label not in LABELS:
                raise ValueError(f"Unknown label {row.label!r}; expected one of {LABELS}.")
            image_path = (
                row.image_path.as_posix() if isinstance(row.image_path, Path) else row.image_path
            )
            writer.writerow([escape_cell(image_path), escape_cell(row.text), row.label])
            count += 1
    return count


def write_csv_rows(path: str | Path, header: Iterable[str], rows: Iterable[Iterable]) -> int:
    """Write any table with spreadsheet-safe string cells (results files, reports)."""
    count = 0
    with Path(path).open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(list(header))
        for row in rows:
            writer.writerow([escape_cell(cell) if isinstance(cell, str) else cell for cell in row])
            count += 1
    return count


# --- reading -----------------------------------------------------------------------------
def default_root_dir(csv_path: str | Path) -> Path:
    """Where a CSV's image paths start when no root is given: the CSV's own folder.

    Never a location named by a file beside the CSV: an ``export.json`` (or any
    file) that could move the root would let a CSV read any image on the
    machine. Exports record their root for people; pass it as ``--root-dir``.
    """
    try:
        return Path(csv_path).resolve().parent
    except (OSError, ValueError):  # a NUL byte in the name: reading it reports the problem
        return Path(csv_path).absolute().parent


def read_training_csv(
    path: str | Path,
    root_dir: str | Path,
    *,
    require_label: bool = True,
    check_images: bool = True,
) -> list[TrainingRow]:
    """Read and validate a fine-tuning CSV; raise ``CsvValidationError`` listing every problem.

    A file with only a header gives no rows (whoever needs rows says so).
    With ``require_label=False`` (scoring files) the ``label`` column may be left
    out or left empty; such rows have ``label == ""``. ``check_images=False``
    skips decoding (paths are still checked to exist inside the root).
    """
    root = Path(root_dir).resolve()
    errors: list[tuple[int, str]] = []
    records = _read_records(path, errors)
    if errors:
        raise CsvValidationError(errors, path)
    if not records:
        raise CsvValidationError([(1, "The file is empty; expected a header row.")], path)
    header = [unescape_cell(cell).strip().lstrip("\ufeff") for cell in records[0][1]]
    columns = _check_header(header, require_label, errors)
    if columns is None:
        raise CsvValidationError(errors, path)

    rows: list[TrainingRow] = []
    image_problems: dict[Path, str | None] = {}
    for row_number, cells in records[1:]:
        if not cells or cells == [""]:
            continue  # blank line, e.g. a trailing newline a spreadsheet added
        if len(cells) != len(columns):
            errors.append(
                (
                    row_number,
                    f"expected {len(columns)} columns ({','.join(columns)}), found {len(cells)}.",
                )
            )
            continue
        values = dict(zip(columns, (unescape_cell(cell) for cell in cells), strict=True))
        row_errors = []
        label = values.get("label", "").strip().lower()
        if label not in LABELS and (require_label or label):
            row_errors.append(
                f"label {values.get('label', '')!r} is not one of {', '.join(LABELS)}."
            )
        text = values["text"]
        if not text.strip():
            row_errors.append("text is empty.")
        image_path, problem = _resolve_image(values["image_path"], root)
        if problem is None:
            if image_path not in image_problems:
                image_problems[image_path] = _image_problem(image_path, decode=check_images)
            problem = image_problems[image_path]
        if problem is not None:
            row_errors.append(problem)
        if row_errors:
            errors.extend((row_number, message) for message in row_errors)
            continue
        rows.append(TrainingRow(image_path, text, label, row_number))
    if errors:
        raise CsvValidationError(errors, path)
    return rows


def _read_records(path: str | Path, errors: list[tuple[int, str]]) -> list[tuple[int, list[str]]]:
    """``(row_number, cells)`` per CSV record; a record may span lines (quoted newlines)."""
    try:
        data = Path(path).read_bytes()
    except (OSError, ValueError) as error:  # ValueError: a NUL byte in the name
        message = error.strerror if isinstance(error, OSError) and error.strerror else error
        errors.append((0, f"cannot read the file: {message}."))
        return []
    try:
        content = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        errors.append((line, "the file is not UTF-8 text (save it as 'CSV UTF-8')."))
        return []
    reader = csv.reader(io.StringIO(content, newline=""), strict=True)
    records = []
    try:
        for number, cells in enumerate(reader, start=1):
            records.append((number, cells))
    except csv.Error as error:
        errors.append((len(records) + 1, f"the CSV is malformed: {error}."))
    return records


def _check_header(
    header: list[str], require_label: bool, errors: list[tuple[int, str]]
) -> list[str] | None:
    required = list(COLUMNS if require_label else COLUMNS[:2])
    missing = [column for column in required if column not in header]
    unknown = [column for column in header if column not in COLUMNS]
    duplicated = sorted({column for column in header if header.count(column) > 1})
    if missing:
        errors.append((1, f"missing column(s): {', '.join(missing)}."))
    if unknown:
        errors.append((1, f"unexpected column(s): {', '.join(unknown)}."))
    if duplicated:
        errors.append((1, f"repeated column(s): {', '.join(duplicated)}."))
    if missing or unknown or duplicated:
        errors.append((1, f"the header must be {','.join(COLUMNS)}."))
        return None
    return header


def _resolve_image(value: str, root: Path) -> tuple[Path, str | None]:
    """The image's absolute path, or a problem when it is empty or leaves ``root``."""
    if not value.strip():
        return root, "image_path is empty."
    if "\x00" in value:
        return root, "image_path contains a NUL character."
    if len(value) > IMAGE_PATH_MAX_CHARS:
        return root, (
            f"image_path is {len(value):,} characters long; at most {IMAGE_PATH_MAX_CHARS:,}."
        )
    posix, windows = PurePosixPath(value), PureWindowsPath(value)
    if posix.is_absolute() or windows.is_absolute() or windows.drive:
        return root, f"image_path {value!r} is absolute; paths must be relative to the root."
    if ".." in posix.parts or ".." in windows.parts:
        return root, f"image_path {value!r} contains '..'; paths must stay inside the root."
    try:
        resolved = (root / value).resolve()
    except (OSError, ValueError) as error:
        return root, f"image_path {value[:80]!r} cannot be used: {error}."
    if not resolved.is_relative_to(root):
        return root, f"image_path {value!r} leads outside the root (a symbolic link?)."
    return resolved, None


def _image_problem(path: Path, *, decode: bool) -> str | None:
    try:
        exists = path.is_file()
    except OSError as error:  # e.g. a path component longer than the file system allows
        return f"image {str(path)[:120]} cannot be opened: {error.strerror or error}."
    if not exists:
        return f"image {path} does not exist."
    if not decode:
        return None
    try:
        decode_image(path)
    except (BadImageError, OSError) as error:
        return f"image {path} cannot be read: {error}"
    return None
