from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from clipanalysis.batch_scoring import batch_test
from clipanalysis.csv_format import CsvValidationError, default_root_dir
from clipanalysis.management.commands._model_option import add_model_arguments, scoring_service


class Command(BaseCommand):
    help = (
        "Score every row of a CSV (image_path,text[,label]) and write "
        "image_path,text,similarity_score,is_match[,label,correct]."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--csv", required=True, type=Path, help="Input CSV file.")
        parser.add_argument("--output", required=True, type=Path, help="Results CSV to write.")
        parser.add_argument(
            "--root-dir",
            type=Path,
            default=None,
            help="Folder image paths are relative to (MEDIA_ROOT for exported CSVs). "
            "Default: the CSV's own folder.",
        )
        add_model_arguments(parser)

    def handle(self, *args, csv, output, root_dir, model, threshold, **options) -> None:
        service = scoring_service(model, threshold)
        try:
            result = batch_test(
                service, csv, root_dir or default_root_dir(csv), output, threshold=threshold
            )
        except CsvValidationError as error:
            raise CommandError(str(error)) from error
        line = f"Scored {result.n} rows: {result.n_match} match at threshold "
        line += f"{service.threshold if threshold is None else threshold:.4f}"
        if result.accuracy is not None:
            line += f"; accuracy {result.accuracy:.1%} on {result.n_labelled} labelled rows"
        self.stdout.write(f"{line}. Results: {result.output_path}")
