"""The export options ``export_training_csv`` and ``improve_model`` share: held-out share and mix.

Not a command (Django skips modules whose name starts with an underscore).
"""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import CommandError

from training.export import DEMO_SYNTHETIC_REPLAY, TrainingMix, default_synthetic_replay
from training.hard_negatives import ATTRIBUTES


def add_mix_arguments(parser) -> None:
    parser.add_argument(
        "--heldout-fraction",
        type=float,
        default=None,
        help="Share of products never exported for training, only to test.csv (the held-out "
        "set activate_model compares on). Default: TRAINING_HELDOUT_FRACTION.",
    )
    parser.add_argument(
        "--attribute-swaps",
        type=int,
        default=TrainingMix.attribute_swaps,
        help="Hard negatives per confirmed text with one attribute's words swapped.",
    )
    parser.add_argument(
        "--same-category-swaps",
        type=int,
        default=TrainingMix.same_category_swaps,
        help="Hard negatives per confirmed text: another product's text of the same category.",
    )
    parser.add_argument(
        "--swap-attributes",
        default=",".join(ATTRIBUTES),
        help=f"Attributes the swaps may change (comma-separated; default {','.join(ATTRIBUTES)}).",
    )
    parser.add_argument(
        "--synthetic-replay",
        type=float,
        default=None,
        help="Synthetic rows of the demo model's own kind per verdict row, so fine-tuning does "
        f"not forget colours and categories. Default: {DEMO_SYNTHETIC_REPLAY:g} when the active "
        "model descends from the demo model, else 0.",
    )
    parser.add_argument(
        "--no-mix",
        action="store_true",
        help="Verdicts (and sampled negatives) only: no hard negatives, no replay.",
    )


def heldout_fraction_from(options) -> float:
    fraction = options["heldout_fraction"]
    fraction = settings.TRAINING_HELDOUT_FRACTION if fraction is None else fraction
    if not 0.0 <= fraction < 1.0:
        raise CommandError("--heldout-fraction must be at least 0 and below 1.")
    return fraction


def mix_from(options) -> TrainingMix | None:
    """The ``TrainingMix`` the options ask for (None with ``--no-mix``)."""
    if options["no_mix"]:
        return None
    replay = options["synthetic_replay"]
    attributes = tuple(a.strip() for a in options["swap_attributes"].split(",") if a.strip())
    try:
        return TrainingMix(
            attribute_swaps=options["attribute_swaps"],
            same_category_swaps=options["same_category_swaps"],
            attributes=attributes,
            synthetic_replay=default_synthetic_replay() if replay is None else replay,
        )
    except ValueError as error:
        raise CommandError(str(error)) from None
