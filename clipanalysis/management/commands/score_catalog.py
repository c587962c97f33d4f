"""manage.py score_catalog: score the catalog (or part of it) in the foreground, or fan out."""

from __future__ import annotations

from datetime import datetime, time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from clipanalysis.catalog_scoring import Selection, score_catalog


class Command(BaseCommand):
    help = (
        "Score catalog images with the active model, streaming in chunks: stale ones by "
        "default. Safe to interrupt and run again. --enqueue sends the chunks to the workers."
    )

    def add_arguments(self, parser) -> None:
        which = parser.add_mutually_exclusive_group()
        which.add_argument(
            "--all",
            dest="which",
            action="store_const",
            const="all",
            help="every image (finished results of the same image, text and model are kept)",
        )
        which.add_argument(
            "--stale",
            dest="which",
            action="store_const",
            const="stale",
            help="images without a finished current result by the active model (default)",
        )
        which.add_argument(
            "--failed",
            dest="which",
            action="store_const",
            const="failed",
            help="images whose current result failed (tried again)",
        )
        parser.add_argument("--category", help="only products of this category")
        parser.add_argument(
            "--since", help="only images uploaded, or products edited, since DATE[THH:MM]"
        )
        parser.add_argument(
            "--batch-size",
            type=int,
            default=None,
            help="images per chunk and per model batch (default CLIP_BATCH_SIZE)",
        )
        parser.add_argument(
            "--enqueue",
            action="store_true",
            help="send each chunk to the django-q2 workers as one task instead of scoring here",
        )
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")

    def handle(self, *args, **options) -> None:
        batch_size = options["batch_size"]
        batch_size = settings.CLIP_BATCH_SIZE if batch_size is None else batch_size
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")
        selection = Selection(
            which=options["which"] or "stale",
            category=options["category"] or None,
            since=parse_since(options["since"]) if options["since"] else None,
        )
        try:
            report = score_catalog(
                selection,
                batch_size=batch_size,
                enqueue=options["enqueue"],
                progress=not options["no_progress"],
                # The stream itself: OutputWrapper would end each redraw with a newline.
                progress_file=getattr(self.stderr, "_out", self.stderr),
            )
        except KeyboardInterrupt:
            raise CommandError(
                "Interrupted: finished results are kept; run the same command again to go on."
            ) from None
        self.stdout.write(report.summary())


def parse_since(text: str) -> datetime:
    problem = f"--since {text!r} is not a date (YYYY-MM-DD[THH:MM])."
    try:
        moment = parse_datetime(text)
        day = parse_date(text) if moment is None else None
    except ValueError as error:  # well formed, but no such day
        raise CommandError(problem) from error
    if moment is None:
        if day is None:
            raise CommandError(problem)
        moment = datetime.combine(day, time.min)
    return moment if timezone.is_aware(moment) else timezone.make_aware(moment)
