from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from clipanalysis.models import ModelVersion
from clipanalysis.pipeline import rescore_catalog
from clipanalysis.registry import ModelNotLoadable, resolve_model_version, rollback
from training.activation_guard import guarded_activate
from training.comparison import format_comparison


class Command(BaseCommand):
    help = (
        "Make a model version the scoring model, guarded: it is loaded, scored, and compared "
        "with the active model on the held-out verdict set, and refused (with the table) when "
        "it is worse overall or loses more than ACTIVATION_GUARD_MARGIN on a slice, unless "
        "--force. VERSION is a registered version slug or a local model directory (registered "
        "first). --previous rolls back to the model the active one replaced, with its threshold."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("version", metavar="VERSION", nargs="?")
        parser.add_argument(
            "--previous",
            action="store_true",
            help="Roll back: re-activate the model the active one replaced, with its threshold.",
        )
        parser.add_argument(
            "--force", action="store_true", help="Activate even when the guard refuses."
        )
        parser.add_argument(
            "--no-rescore",
            action="store_true",
            help="Only switch the model; images are scored with it when next saved.",
        )
        parser.add_argument("--plot", type=Path, default=None, help="Write the comparison PNG.")

    def handle(self, *args, version, previous, force, no_rescore, plot, **options) -> None:
        if previous == bool(version):
            raise CommandError("Give a VERSION to activate, or --previous to roll back.")
        if previous:
            self._roll_back(no_rescore)
            return
        try:
            model_version = resolve_model_version(version)
            decision = guarded_activate(
                model_version,
                force=force,
                rescore=not no_rescore,
                plot_path=plot,
                progress=options.get("verbosity", 1) > 0,
            )
        except ModelVersion.DoesNotExist as error:
            raise CommandError(str(error)) from None
        except ModelNotLoadable as error:
            raise CommandError(f"Not activated, the model is not loadable: {error}") from None
        if decision.comparison is not None:
            self.stdout.write(format_comparison(decision.comparison))
        if plot is not None and decision.comparison is not None:
            self.stdout.write(f"Plot: {plot}")
        if not decision.activated:
            raise CommandError(
                f"{decision.message} {model_version.version} stays inactive; the active model "
                "is unchanged. Use --force to activate it anyway."
            )
        self.stdout.write(decision.message)
        self.stdout.write(
            f"Activated {model_version.version} ({model_version.name_or_path}, "
            f"threshold {model_version.threshold:.4f}); "
            f"{decision.queued} images queued for re-scoring."
        )
        if decision.calibration:
            self.stdout.write(
                f"Calibrated on {decision.calibration['n_verdicts']} held-out verdicts "
                f"(ECE {decision.calibration['ece']:.3f})."
            )

    def _roll_back(self, no_rescore: bool) -> None:
        try:
            model_version = rollback()
        except ModelVersion.DoesNotExist as error:
            raise CommandError(str(error)) from None
        except ModelNotLoadable as error:
            raise CommandError(f"Not rolled back, the model is not loadable: {error}") from None
        queued = 0 if no_rescore else rescore_catalog(model_version, progress=True)
        self.stdout.write(
            f"Rolled back to {model_version.version} ({model_version.name_or_path}, "
            f"threshold {model_version.threshold:.4f}); {queued} images queued for re-scoring."
        )
