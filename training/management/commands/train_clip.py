from datetime import datetime
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from clipanalysis.csv_format import CsvValidationError
from clipanalysis.models import ModelVersion

# The registry (clipanalysis.registry) is the ORM layer that owns ModelVersion; this
# command only records the new model there. Activating it re-scores the whole
# catalog, so that stays an operator's decision: manage.py activate_model.
from clipanalysis.registry import active_model_location, register_model
from training.finetune import fine_tune_from_csv
from training.finetune_config import FineTuneConfig
from training.finetune_report import format_fine_tune_report


class Command(BaseCommand):
    help = (
        "Fine-tune CLIP on reviewer verdicts (CSV image_path,text,label), save checkpoints, "
        "best_model/ and final_model/, and register best_model as a new (inactive) version."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--train-csv", required=True, type=Path)
        parser.add_argument(
            "--val-csv",
            type=Path,
            default=None,
            help="Validation CSV. Default: hold out --val-fraction of the training images.",
        )
        parser.add_argument("--val-fraction", type=float, default=0.2)
        parser.add_argument(
            "--model", default=None, help="Model to start from. Default: the active model."
        )
        parser.add_argument(
            "--output",
            type=Path,
            default=None,
            help="Run directory. Default: MODELS_DIR/finetuned-<timestamp>.",
        )
        parser.add_argument(
            "--root-dir",
            type=Path,
            default=None,
            help="Folder image paths are relative to (MEDIA_ROOT for exported CSVs). "
            "Default: the CSV's own folder.",
        )
        parser.add_argument("--epochs", type=int, default=3)
        parser.add_argument("--batch-size", type=int, default=8)
        parser.add_argument("--lr", type=float, default=5e-6)
        parser.add_argument("--save-steps", type=int, default=100)
        parser.add_argument("--grad-accum", type=int, default=1)
        parser.add_argument("--freeze-vision-layers", type=int, default=0)
        parser.add_argument("--freeze-text-layers", type=int, default=0)
        parser.add_argument("--negative-loss-weight", type=float, default=1.0)
        parser.add_argument("--weight-decay", type=float, default=0.1)
        parser.add_argument(
            "--anchor-weight",
            type=float,
            default=0.0,
            help="L2-SP: pull toward the starting weights (sum of squared changes x this).",
        )
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument(
            "--device", default="auto", help="auto (CUDA when present), cpu or cuda."
        )
        parser.add_argument(
            "--resume", action="store_true", help="Continue from the latest checkpoint in --output."
        )
        parser.add_argument(
            "--no-register", action="store_true", help="Do not record the model in the registry."
        )
        parser.add_argument("--no-progress", action="store_true", help="No progress bar.")

    def handle(self, *args, **options) -> None:
        if options["resume"] and options["output"] is None:
            raise CommandError("--resume needs --output: the run directory to continue.")
        model = options["model"] or active_model_location()[0]
        output = options["output"] or settings.MODELS_DIR / (
            f"finetuned-{datetime.now():%Y%m%d-%H%M%S}"
        )
        try:
            config = FineTuneConfig(
                epochs=options["epochs"],
                batch_size=options["batch_size"],
                lr=options["lr"],
                save_steps=options["save_steps"],
                grad_accum_steps=options["grad_accum"],
                freeze_vision_layers=options["freeze_vision_layers"],
                freeze_text_layers=options["freeze_text_layers"],
                negative_loss_weight=options["negative_loss_weight"],
                weight_decay=options["weight_decay"],
                anchor_weight=options["anchor_weight"],
                seed=options["seed"],
                device=options["device"],
            )
            report = fine_tune_from_csv(
                model,
                options["train_csv"],
                output,
                config,
                val_csv=options["val_csv"],
                root_dir=options["root_dir"],
                val_fraction=options["val_fraction"],
                progress=not options["no_progress"],
                resume=options["resume"],
            )
        except CsvValidationError as error:
            raise CommandError(f"Nothing was trained.\n{error}") from error
        except (ValueError, OSError, RuntimeError) as error:
            raise CommandError(f"Training failed: {error}") from error
        self.stdout.write(format_fine_tune_report(report))
        if not options["no_register"]:
            version = register_model(
                report.best_model_dir,
                source=ModelVersion.Source.TRAINED,
                base_model=report.base_model,
                metrics=report.metrics,
                training_summary=report.training_summary,
                threshold=report.threshold,
            )
            self.stdout.write(
                f"Registered {version.version} (not active). "
                f"Activate with: manage.py activate_model {version.version}"
            )
