from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from training.demo.build import DEFAULT_EPOCHS, DemoBuildConfig, build_demo_model


class Command(BaseCommand):
    help = (
        "Train the offline demo CLIP from scratch on the synthetic catalog (a few minutes "
        "on CPU) and save it with its own decision threshold."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--output", type=Path, default=None, help="Default: settings.DEMO_MODEL_DIR."
        )
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--epochs", type=int, default=DEFAULT_EPOCHS)
        parser.add_argument(
            "--force", action="store_true", help="Rebuild even if the directory holds a model."
        )

    def handle(self, *args, output, seed: int, epochs: int, force: bool, **options) -> None:
        if epochs < 1:
            raise CommandError("--epochs must be at least 1")
        output = Path(output or settings.DEMO_MODEL_DIR)
        if (output / "config.json").is_file() and not force:
            self.stdout.write(f"A model already exists in {output}; use --force to rebuild it.")
            return
        config = DemoBuildConfig(seed=seed, epochs=epochs)
        progress = options.get("verbosity", 1) > 0
        if progress:
            # Said before the first packshot is drawn: the bars follow on stderr.
            self.stdout.write(
                f"Building the demo CLIP into {output}: {config.n_train:,} synthetic packshots, "
                f"{epochs} epochs, then a threshold from held-out pairs (a few minutes on CPU)."
            )
            self.stdout.flush()
        try:
            report = build_demo_model(output, config=config, progress=progress)
        except FileExistsError as error:
            raise CommandError(str(error)) from error
        by_type = ", ".join(f"{kind} {auc:.3f}" for kind, auc in report.heldout.auc_by_type.items())
        self.stdout.write(
            self.style.SUCCESS(f"Demo model saved to {report.output_dir}")
            + f" in {report.seconds:.0f} s.\n"
            f"Threshold {report.threshold:.3f} (similarity_score), chosen on "
            f"{report.heldout.n} held-out synthetic pairs (seed {report.heldout_seed}).\n"
            f"Held-out ROC-AUC {report.heldout.overall_auc:.3f}; by mismatch type: {by_type}; "
            f"accuracy at the threshold {report.heldout.accuracy_at_threshold:.1%}."
        )
