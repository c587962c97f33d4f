from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from clipanalysis.csv_format import CsvValidationError, default_root_dir
from clipanalysis.management.commands._model_option import add_model_arguments, scoring_service
from clipanalysis.models import ModelVersion
from clipanalysis.registry import ModelNotLoadable
from training.activation_guard import compare_models, model_to_compare, score_pairs
from training.comparison import format_comparison, plot_comparison
from training.demo.synthetic_eval import evaluate_on_synthetic, format_report
from training.evaluation import evaluate_csv, format_evaluation


class Command(BaseCommand):
    help = (
        "Evaluate a CLIP model on a labelled CSV (image_path,text,label): ROC-AUC, "
        "precision/recall/F1 at the threshold, best-F1 threshold; or, with --synthetic, "
        "on a fresh synthetic catalog. With --compare ACTIVE CANDIDATE: both models side by "
        "side on the same pairs (the held-out verdict set unless --csv or --synthetic), per "
        "slice with bootstrap intervals, and one plot (ROC curves and score histograms)."
    )

    def add_arguments(self, parser) -> None:
        add_model_arguments(parser)
        parser.add_argument("--csv", type=Path, default=None, help="Labelled CSV file.")
        parser.add_argument(
            "--root-dir",
            type=Path,
            default=None,
            help="Folder image paths are relative to (MEDIA_ROOT for exported CSVs). "
            "Default: the CSV's own folder.",
        )
        parser.add_argument(
            "--target-precision",
            type=float,
            default=None,
            help="Also report the lowest threshold whose match precision reaches this.",
        )
        parser.add_argument("--plot", type=Path, default=None, help="Write a PNG here.")
        parser.add_argument(
            "--synthetic", action="store_true", help="Evaluate on synthetic listings instead."
        )
        parser.add_argument("--seed", type=int, default=0, help="Synthetic catalog seed.")
        parser.add_argument("--n", type=int, default=400, help="Synthetic pairs.")
        parser.add_argument(
            "--compare",
            nargs=2,
            metavar=("ACTIVE", "CANDIDATE"),
            default=None,
            help="Two models (version slug, 'active' or a model directory) on the same pairs.",
        )

    def handle(self, *args, model, threshold, csv, root_dir, target_precision, plot, **options):
        if options["compare"]:
            self._compare(*options["compare"], csv, root_dir, plot, options)
            return
        if not options["synthetic"] and csv is None:
            raise CommandError("Give --csv FILE, or --synthetic.")
        service = scoring_service(model, threshold)
        self.stdout.write(f"Model: {service.model_name}")
        if options["synthetic"]:
            evaluation = evaluate_on_synthetic(
                service,
                options["seed"],
                options["n"],
                service.threshold,
                progress=options.get("verbosity", 1) > 0,
            )
            self.stdout.write(format_report(evaluation))
            return
        try:
            report = evaluate_csv(
                service,
                csv,
                root_dir or default_root_dir(csv),
                target_precision=target_precision,
                plot_path=plot,
            )
        except CsvValidationError as error:
            raise CommandError(str(error)) from error
        except ValueError as error:  # e.g. a target precision outside (0, 1]
            raise CommandError(str(error)) from error
        self.stdout.write(format_evaluation(report))
        if plot is not None:
            self.stdout.write(f"Plot: {plot}")

    def _compare(self, active_spec, candidate_spec, csv, root_dir, plot, options) -> None:
        if csv is not None and options["synthetic"]:
            raise CommandError("Compare on --csv FILE or on --synthetic pairs, not both.")
        try:
            active = model_to_compare(active_spec)
            candidate = model_to_compare(candidate_spec)
            scores = score_pairs(
                active,
                candidate,
                csv_path=csv,
                root_dir=(root_dir or default_root_dir(csv)) if csv is not None else None,
                synthetic=(options["seed"], options["n"]) if options["synthetic"] else None,
            )
        except (ModelVersion.DoesNotExist, ModelNotLoadable, CsvValidationError) as error:
            raise CommandError(str(error)) from error
        if not scores.labels.size:
            raise CommandError(
                "No pairs to compare on: no held-out verdicts yet (give --csv or --synthetic)."
            )
        self.stdout.write(f"Pairs: {scores.source}")
        self.stdout.write(format_comparison(compare_models(active, candidate, scores)))
        if plot is not None:
            plot_comparison(
                scores.labels,
                scores.active,
                scores.candidate,
                plot,
                (active.label, candidate.label),
            )
            self.stdout.write(f"Plot: {plot}")
