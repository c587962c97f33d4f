from django.core.management.base import BaseCommand, CommandError

from training.seeding import seed_catalog


class Command(BaseCommand):
    help = "Fill the catalog with synthetic products, a known share mismatched on purpose."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--products", type=int, default=100)
        parser.add_argument("--mismatch-rate", type=float, default=0.2)
        parser.add_argument("--seed", type=int, default=0)

    def handle(self, *args, products: int, mismatch_rate: float, seed: int, **options) -> None:
        if products < 1:
            raise CommandError("--products must be at least 1")
        if not 0.0 <= mismatch_rate <= 1.0:
            raise CommandError("--mismatch-rate must be between 0 and 1")
        summary = seed_catalog(
            products,
            mismatch_rate=mismatch_rate,
            seed=seed,
            progress=options.get("verbosity", 1) > 0,
        )
        self.stdout.write(
            f"Created {summary.created} products ({summary.mismatched} mismatched on purpose), "
            f"skipped {summary.skipped} existing SKUs. Analysis is queued for each image; "
            "`manage.py demo_detection_report` measures detection once it has run."
        )
