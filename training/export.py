"""Export reviewer verdicts as fine-tuning data: ``train.csv``, ``val.csv`` and ``export.json``.

The ORM side of the training data. ``clipanalysis.csv_format`` owns the file
format (columns ``image_path,text,label``, spreadsheet-safe cells); this
module decides which rows there are:

1. **Which verdicts count.** Verdicts are append-only; the newest standing one
   of each review item counts (an undone verdict is retracted and never counts;
   a revision is a newer verdict). "Bad image" says nothing about the text and is left
   out, as is an item whose newest verdict is "bad image". Where several
   items ruled on the same image and text, the newest verdict wins.
2. **Rows.** A verdict gives (image, scored text, match/mismatch). A corrected
   description gives one more row: (image, corrected text, match).
3. **Split by product.** A product goes to ``val`` when a seeded hash of its
   id falls below ``val_fraction``, so all its images and texts are on one
   side, and it stays on that side in later exports as verdicts accumulate
   (a model never trains on what an earlier export validated it on). With
   very few products the hash may put all on one side; then the product
   nearest the cut moves over, so both files have rows.
4. **Balance.** Reviewers mostly see flagged results, so verdicts are often
   lopsided. When a side has fewer mismatch rows than match rows, the
   difference is made up with sampled negatives: an image with a
   reviewer-confirmed match, paired with another product's confirmed text
   from the same side (a product of another category where there is one).
   Positives cannot be invented, so more mismatches than matches stay as
   they are (``export.json`` says so).
5. **Paths.** ``image_path`` is relative to ``MEDIA_ROOT`` (the root), which
   ``export.json`` records; images whose file is gone are skipped and counted.
6. **Held out for good.** Products whose hash (salted apart from the
   validation split) falls below ``TRAINING_HELDOUT_FRACTION`` never go to
   ``train.csv`` or ``val.csv``: they are the held-out set on which
   ``activate_model`` compares a candidate with the active model
   (``heldout_pairs``), and they are written to ``test.csv``.
7. **The mix** (``TrainingMix``, off unless given): hard negatives made from
   each side's own confirmed texts (``training.hard_negatives``: single
   attribute swaps, same-category swaps; never accidental matches), and
   synthetic replay rows (the demo model's own kind of pairs, so fine-tuning
   on a few hundred verdicts does not forget colours and categories). Older
   verdicts are always in: an export without ``since`` replays all of them.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from django.conf import settings
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from clipanalysis.csv_format import (
    EXPORT_INFO_FILENAME,
    MATCH,
    MISMATCH,
    TrainingRow,
    write_training_csv,
)
from clipanalysis.models import ModelVersion, Verdict
from training.hard_negatives import ATTRIBUTES, attribute_swaps, same_category_swap

NEGATIVE_ATTEMPTS_PER_ROW = 20
# Synthetic replay rows per verdict row when the model descends from the demo model.
DEMO_SYNTHETIC_REPLAY = 3.0
REPLAY_FOLDER = "training-replay"  # under MEDIA_ROOT: a training CSV's paths lie in its root


@dataclass(frozen=True)
class LabelledPair:
    """One image–text pair a reviewer ruled on (or that the export sampled)."""

    image_id: int
    product_id: int
    category: str
    image_hash: str
    image_name: str  # storage name, relative to MEDIA_ROOT
    text: str
    is_match: bool
    origin: str  # "verdict", "corrected", "sampled", "attribute-swap" or "same-category"
    attribute: str = ""  # for hard negatives: the attribute that was swapped

    @property
    def slices(self) -> dict[str, str]:
        """What evaluation groups this pair by: category, and for a negative what makes it one."""
        kind = self.attribute or ("match" if self.is_match else self.origin)
        return {"category": self.category or "none", "mismatch kind": kind}

    @property
    def label(self) -> str:
        return MATCH if self.is_match else MISMATCH


@dataclass
class SplitSummary:
    rows: int = 0
    match: int = 0
    mismatch: int = 0
    products: int = 0
    images: int = 0
    corrected: int = 0
    sampled_negatives: int = 0
    hard_negatives: int = 0
    synthetic: int = 0


@dataclass(frozen=True)
class TrainingMix:
    """What joins the verdicts in ``train.csv`` / ``val.csv`` (module docstring, step 7).

    ``attribute_swaps`` and ``same_category_swaps`` are hard negatives per confirmed
    text; ``synthetic_replay`` is synthetic rows per verdict row (0: none).
    """

    attribute_swaps: int = 2
    same_category_swaps: int = 1
    attributes: tuple[str, ...] = ATTRIBUTES
    synthetic_replay: float = 0.0
    synthetic_seed: int = 7

    def __post_init__(self) -> None:
        if self.attribute_swaps < 0 or self.same_category_swaps < 0 or self.synthetic_replay < 0:
            raise ValueError("The mix's counts must be 0 or more.")
        unknown = set(self.attributes) - set(ATTRIBUTES)
        if unknown:
            raise ValueError(
                f"Unknown attribute(s) {sorted(unknown)}; known: {', '.join(ATTRIBUTES)}."
            )


@dataclass
class ExportSummary:
    """What ``export_verdicts`` wrote, and why some verdicts are not in it."""

    output_dir: Path
    root: Path
    train_path: Path
    val_path: Path
    test_path: Path
    train: SplitSummary
    val: SplitSummary
    test: SplitSummary
    verdicts_counted: int
    bad_image_excluded: int
    missing_images: int
    val_fraction: float
    since: datetime | None
    seed: int
    balance: bool
    heldout_fraction: float = 0.0
    mix: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for name in ("output_dir", "root", "train_path", "val_path", "test_path"):
            data[name] = str(data[name])
        data["since"] = self.since.isoformat() if self.since else None
        return data


def descends_from_demo(model_version: ModelVersion | None) -> bool:
    """The demo model, or a model fine-tuned (through any number of runs) from it."""
    seen: set[int] = set()
    while model_version is not None and model_version.pk not in seen:
        if model_version.source == ModelVersion.Source.DEMO:
            return True
        seen.add(model_version.pk)
        if model_version.source != ModelVersion.Source.TRAINED or not model_version.base_model:
            return False
        base = model_version.base_model
        model_version = (
            ModelVersion.objects.filter(name_or_path__in={base, str(Path(base).resolve())})
            .order_by("pk")
            .first()
        )
    return False


def default_synthetic_replay() -> float:
    """Replay for the demo model's lineage (its own kind of pairs exist); none otherwise."""
    active = ModelVersion.objects.active().first()
    return DEMO_SYNTHETIC_REPLAY if descends_from_demo(active) else 0.0


# --- 1. which verdicts count ------------------------------------------------------------
def counted_verdicts(since: datetime | None = None):
    """The verdict that counts for each review item (its newest), optionally since a moment."""
    verdicts = Verdict.objects.latest_per_item()
    return verdicts if since is None else verdicts.filter(created_at__gte=since)


def labelled_pairs(since: datetime | None = None) -> list[LabelledPair]:
    """Every (image, text) reviewers labelled, newest verdict winning; corrected texts as match.

    With ``since``, only verdicts recorded at or after it.
    """
    verdicts = counted_verdicts(since).labelling()
    pairs: dict[tuple[int, str, str], LabelledPair] = {}
    for verdict in verdicts.select_related("result__image__product").order_by("created_at", "id"):
        image = verdict.result.image
        pair = LabelledPair(
            image_id=image.pk,
            product_id=image.product_id,
            category=image.product.category,
            image_hash=verdict.result.image_hash,
            image_name=image.image.name,
            text=verdict.result.description.strip(),
            is_match=verdict.decision == Verdict.Decision.MATCH,
            origin="verdict",
        )
        pairs[(pair.image_id, pair.image_hash, pair.text)] = pair
        corrected = verdict.corrected_description.strip()
        if corrected:
            fixed = replace(pair, text=corrected, is_match=True, origin="corrected")
            pairs[(pair.image_id, pair.image_hash, corrected)] = fixed
    return list(pairs.values())


# --- 3. split by product ------------------------------------------------------------------
def product_hash(product_id: int, seed: int | str) -> float:
    """A stable pseudo-random number in [0, 1) for a product."""
    digest = hashlib.sha256(f"{seed}:{product_id}".encode()).hexdigest()
    return int(digest[:13], 16) / 16**13


def validation_products(product_ids: Iterable[int], val_fraction: float, seed: int) -> set[int]:
    """The products whose rows go to ``val.csv`` (see the module docstring, step 3)."""
    ranked = sorted(set(product_ids), key=lambda pid: product_hash(pid, seed))
    if val_fraction <= 0 or not ranked:
        return set()
    val = {pid for pid in ranked if product_hash(pid, seed) < val_fraction}
    if len(ranked) >= 2 and not val:
        val = {ranked[0]}
    if len(ranked) >= 2 and len(val) == len(ranked):
        val.discard(ranked[-1])
    return val


HELDOUT_SALT = "heldout"


def heldout_products(product_ids: Iterable[int], fraction: float | None = None) -> set[int]:
    """The products kept out of every training export: the held-out comparison set.

    A hash salted apart from the validation split's, so it does not depend on an
    export's seed, and a product never moves in or out of it as verdicts accumulate.
    """
    if fraction is None:
        fraction = settings.TRAINING_HELDOUT_FRACTION
    return {pid for pid in set(product_ids) if product_hash(pid, HELDOUT_SALT) < fraction}


def hard_negatives(
    pairs: list[LabelledPair], rng: random.Random, mix: TrainingMix
) -> list[LabelledPair]:
    """Hard negatives from ``pairs``' confirmed texts (one side of the split only).

    Attribute swaps of each matched image's own text; same-category swaps with
    another product's confirmed text. A text already labelled for the image is
    never added again, so a verdict always wins over a made-up row.
    """
    matches = [pair for pair in pairs if pair.is_match]
    taken = {(pair.image_id, pair.text) for pair in pairs}
    donors: dict[str, dict[int, set[str]]] = defaultdict(lambda: defaultdict(set))
    for pair in matches:
        donors[pair.category][pair.product_id].add(pair.text)
    made: list[LabelledPair] = []

    def add(anchor: LabelledPair, text: str, origin: str, attribute: str) -> None:
        if (anchor.image_id, text) not in taken:
            taken.add((anchor.image_id, text))
            made.append(
                replace(anchor, text=text, is_match=False, origin=origin, attribute=attribute)
            )

    for anchor in matches:
        for swap in attribute_swaps(anchor.text, rng, mix.attributes, mix.attribute_swaps):
            add(anchor, swap.text, "attribute-swap", swap.attribute)
        if not mix.same_category_swaps or not anchor.category:
            continue
        own = donors[anchor.category][anchor.product_id]
        pool = [
            text
            for product_id, texts in sorted(donors[anchor.category].items())
            if product_id != anchor.product_id
            for text in sorted(texts)
            if text not in own
        ]
        for _ in range(mix.same_category_swaps):
            swap = same_category_swap(anchor.text, pool, rng, mix.attributes)
            if swap is None:
                break
            pool.remove(swap.text)
            add(anchor, swap.text, "same-category", "same-category")
    return made


def heldout_pairs(mix: TrainingMix | None = None, seed: int = 0) -> list[LabelledPair]:
    """The held-out comparison set: verdicts on held-out products plus their hard negatives.

    The same pairs every time for the same verdicts (seeded), so two models are
    compared on exactly the same pairs; images whose file is gone are left out.
    """
    root = Path(settings.MEDIA_ROOT).resolve()
    heldout = [pair for pair in labelled_pairs() if (root / pair.image_name).is_file()]
    kept = heldout_products(pair.product_id for pair in heldout)
    pairs = [pair for pair in heldout if pair.product_id in kept]
    pairs.sort(key=_pair_order)
    return pairs + hard_negatives(pairs, random.Random(seed), mix or TrainingMix())


def _pair_order(pair: LabelledPair) -> tuple:
    return (pair.product_id, pair.image_id, not pair.is_match, pair.text)


# --- 4. balance ---------------------------------------------------------------------------
def sample_negatives(pairs: list[LabelledPair], rng: random.Random) -> list[LabelledPair]:
    """Mismatch rows that bring ``pairs`` (one side of the split) to as many mismatches as
    matches: a matched image with another product's confirmed text."""
    matches = [pair for pair in pairs if pair.is_match]
    deficit = len(matches) - (len(pairs) - len(matches))
    if deficit <= 0:
        return []
    texts_by_product: dict[int, list[str]] = defaultdict(list)
    category_of: dict[int, str] = {}
    for pair in matches:
        if pair.text not in texts_by_product[pair.product_id]:
            texts_by_product[pair.product_id].append(pair.text)
        category_of[pair.product_id] = pair.category
    if len(texts_by_product) < 2:
        return []
    products = sorted(texts_by_product)
    taken = {(pair.image_id, pair.text) for pair in pairs}
    order = matches[:]
    rng.shuffle(order)
    sampled: list[LabelledPair] = []
    for attempt in range(deficit * NEGATIVE_ATTEMPTS_PER_ROW):
        if len(sampled) == deficit:
            break
        anchor = order[attempt % len(order)]
        own_texts = texts_by_product[anchor.product_id]
        others = [pid for pid in products if pid != anchor.product_id]
        other_category = [pid for pid in others if category_of[pid] != anchor.category]
        donor = rng.choice(other_category or others)
        text = rng.choice(texts_by_product[donor])
        if (anchor.image_id, text) in taken or text in own_texts:
            continue
        taken.add((anchor.image_id, text))
        sampled.append(replace(anchor, text=text, is_match=False, origin="sampled"))
    return sampled


# --- the export ------------------------------------------------------------------------------
def export_verdicts(
    output_dir: str | Path,
    *,
    val_fraction: float = 0.2,
    since: datetime | None = None,
    seed: int = 0,
    balance: bool = True,
    heldout_fraction: float = 0.0,
    mix: TrainingMix | None = None,
) -> ExportSummary:
    """Write ``train.csv``, ``val.csv``, ``test.csv`` and ``export.json`` into ``output_dir``.

    See the module docstring for which rows there are and why. ``heldout_fraction``
    is ``TRAINING_HELDOUT_FRACTION`` in every command (0 here keeps all products).
    """
    if not 0.0 <= val_fraction < 1.0:
        raise ValueError("val_fraction must be at least 0 and below 1.")
    if not 0.0 <= heldout_fraction < 1.0:
        raise ValueError("heldout_fraction must be at least 0 and below 1.")
    output = Path(output_dir)
    output.mkdir(parents=True, exist_ok=True)
    root = Path(settings.MEDIA_ROOT).resolve()

    pairs = labelled_pairs(since)
    present = [pair for pair in pairs if (root / pair.image_name).is_file()]
    test_ids = heldout_products((pair.product_id for pair in present), heldout_fraction)
    trainable = [pair for pair in present if pair.product_id not in test_ids]
    val_ids = validation_products((pair.product_id for pair in trainable), val_fraction, seed)
    rng = random.Random(seed)
    notes = []
    sides: dict[str, list[LabelledPair]] = {}
    for name, chosen in (
        ("train", lambda pid: pid not in val_ids and pid not in test_ids),
        ("val", lambda pid: pid in val_ids),
        ("test", lambda pid: pid in test_ids),
    ):
        side = sorted((pair for pair in present if chosen(pair.product_id)), key=_pair_order)
        if mix is not None:
            side += hard_negatives(side, rng, mix)
        if balance:
            side += sample_negatives(side, rng)
            labels = Counter(pair.is_match for pair in side)
            if labels[True] < labels[False] and name != "test":
                notes.append(
                    f"{name}: {labels[False]} mismatch rows but only {labels[True]} match rows; "
                    "positives cannot be sampled, so it stays unbalanced."
                )
        sides[name] = side

    synthetic = {"train": [], "val": []}
    if mix is not None and mix.synthetic_replay > 0:
        # Imported here: rendering is only needed when the mix asks for replay.
        from training.demo.replay import write_replay_rows

        for name in synthetic:
            count = round(len(sides[name]) * mix.synthetic_replay)
            synthetic[name] = write_replay_rows(
                root, REPLAY_FOLDER, count, seed=mix.synthetic_seed + (name == "val")
            )

    summary = ExportSummary(
        output_dir=output,
        root=root,
        train_path=output / "train.csv",
        val_path=output / "val.csv",
        test_path=output / "test.csv",
        train=_write_side(output / "train.csv", sides["train"], synthetic["train"]),
        val=_write_side(output / "val.csv", sides["val"], synthetic["val"]),
        test=_write_side(output / "test.csv", sides["test"]),
        verdicts_counted=counted_verdicts(since).labelling().count(),
        bad_image_excluded=counted_verdicts(since)
        .filter(decision=Verdict.Decision.BAD_IMAGE)
        .count(),
        missing_images=len(pairs) - len(present),
        val_fraction=val_fraction,
        since=since,
        seed=seed,
        balance=balance,
        heldout_fraction=heldout_fraction,
        mix=asdict(mix) if mix is not None else None,
        notes=notes,
    )
    info = {
        **summary.as_dict(),
        "exported_at": timezone.now().isoformat(),
        "columns": ["image_path", "text", "label"],
        "image_paths_relative_to": str(root),
    }
    (output / EXPORT_INFO_FILENAME).write_text(
        json.dumps(info, indent=2, sort_keys=True), encoding="utf-8"
    )
    return summary


def _write_side(
    path: Path, pairs: list[LabelledPair], synthetic: list[TrainingRow] | None = None
) -> SplitSummary:
    """Write one side; synthetic rows carry absolute paths (they live in the export folder)."""
    synthetic = synthetic or []
    rows = [
        TrainingRow(image_path=pair.image_name, text=pair.text, label=pair.label) for pair in pairs
    ]
    write_training_csv(path, rows + synthetic)
    return SplitSummary(
        rows=len(pairs) + len(synthetic),
        match=sum(pair.is_match for pair in pairs) + sum(row.is_match for row in synthetic),
        mismatch=sum(not pair.is_match for pair in pairs)
        + sum(not row.is_match for row in synthetic),
        products=len({pair.product_id for pair in pairs}),
        images=len({pair.image_id for pair in pairs}),
        corrected=sum(pair.origin == "corrected" for pair in pairs),
        sampled_negatives=sum(pair.origin == "sampled" for pair in pairs),
        hard_negatives=sum(pair.origin in {"attribute-swap", "same-category"} for pair in pairs),
        synthetic=len(synthetic),
    )


def parse_since(value: str) -> datetime:
    """``2025-01-31`` (midnight, current time zone) or an ISO date-time, made aware."""
    moment = parse_datetime(value)
    if moment is None:
        day = parse_date(value)
        if day is None:
            raise ValueError(f"{value!r} is not a date (YYYY-MM-DD) or an ISO date-time.")
        moment = datetime(day.year, day.month, day.day)
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    return moment
