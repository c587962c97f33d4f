from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from clipanalysis.models import ModelVersion
from clipanalysis.registry import active_model
from training.calibration import fit_calibration


class Command(BaseCommand):
    help = (
        "Fit a model version's calibration (similarity → P(match)) from reviewer verdicts, "
        "store it and write match_probability on its results."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--model-version", help="Model version slug (default: the active model)."
        )
        parser.add_argument(
            "--min-verdicts",
            type=int,
            default=None,
            help="Fit only with at least this many labelled pairs "
            "(default: CALIBRATION_MIN_VERDICTS).",
        )

    def handle(self, *args, model_version: str | None, min_verdicts: int | None, **options) -> None:
        if model_version:
            try:
                chosen = ModelVersion.objects.get(version=model_version)
            except ModelVersion.DoesNotExist:
                raise CommandError(f"No model version {model_version!r}.") from None
        else:
            chosen = active_model()
        if min_verdicts is None:
            min_verdicts = settings.CALIBRATION_MIN_VERDICTS
        calibration = fit_calibration(chosen, min_verdicts)
        if calibration is None:
            raise CommandError(
                f"Not enough verdicts to calibrate {chosen.version}: it needs at least "
                f"{min_verdicts} labelled image–text pairs it scored, with both matches and "
                "mismatches."
            )
        self.stdout.write(
            f"Calibrated {chosen.version} on {calibration['n_verdicts']} verdicts "
            f"({calibration['n_match']} match, {calibration['n_mismatch']} mismatch): "
            f"P(match) = 1 / (1 + exp(-({calibration['coef']:.3f} × score "
            f"+ {calibration['intercept']:.3f})))."
        )
