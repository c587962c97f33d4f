from django.core.management.base import BaseCommand, CommandError

from training.export import export_verdicts, parse_since
from training.management.commands._mix_options import (
    add_mix_arguments,
    heldout_fraction_from,
    mix_from,
)


class Command(BaseCommand):
    help = (
        "Export reviewer verdicts as train.csv and val.csv (image_path,text,label) for "
        "fine-tuning, split by product, with hard negatives (attribute and same-category "
        "swaps) and, for the demo model's lineage, synthetic replay; held-out products go to "
        "test.csv only; export.json describes the export."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--output", required=True, metavar="DIR")
        parser.add_argument(
            "--val-fraction", type=float, default=0.2, help="Share of products in val.csv."
        )
        parser.add_argument(
            "--since", metavar="DATE", help="Only verdicts from this date (YYYY-MM-DD) on."
        )
        parser.add_argument("--seed", type=int, default=0, help="Seeds the split and sampling.")
        parser.add_argument(
            "--no-balance",
            action="store_true",
            help="Do not add sampled negatives when matches outnumber mismatches.",
        )
        add_mix_arguments(parser)

    def handle(self, *args, output, val_fraction, since, seed, no_balance, **options) -> None:
        if not 0.0 <= val_fraction < 1.0:
            raise CommandError("--val-fraction must be at least 0 and below 1.")
        try:
            since_moment = parse_since(since) if since else None
        except ValueError as error:
            raise CommandError(str(error)) from None
        summary = export_verdicts(
            output,
            val_fraction=val_fraction,
            since=since_moment,
            seed=seed,
            balance=not no_balance,
            heldout_fraction=heldout_fraction_from(options),
            mix=mix_from(options),
        )
        self.stdout.write(
            f"Image paths are relative to {summary.root}: train with "
            f"train_clip --train-csv {summary.train_path} --root-dir {summary.root}"
        )
        for name, side, path in (
            ("train", summary.train, summary.train_path),
            ("val", summary.val, summary.val_path),
            ("test (held out)", summary.test, summary.test_path),
        ):
            self.stdout.write(
                f"{name}: {side.rows} rows ({side.match} match, {side.mismatch} mismatch; "
                f"{side.corrected} corrected texts, {side.sampled_negatives} sampled negatives, "
                f"{side.hard_negatives} hard negatives, {side.synthetic} synthetic replay) "
                f"from {side.products} products → {path}"
            )
        self.stdout.write(
            f"{summary.verdicts_counted} verdicts used; {summary.bad_image_excluded} 'bad image' "
            f"verdicts left out; {summary.missing_images} rows skipped for missing image files."
        )
        for note in summary.notes:
            self.stdout.write(self.style.WARNING(note))
        if not summary.train.rows:
            self.stdout.write(self.style.WARNING("No verdicts to export yet."))
