from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from clipanalysis.models import ModelVersion
from clipanalysis.registry import ModelNotLoadable, activate_guarded, register_model, source_of


class Command(BaseCommand):
    help = (
        "Record a CLIP model (local directory or hub name) in the model registry, after loading "
        "it and scoring one image; its threshold comes from the directory's catalog_clip.json "
        "unless given."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("path", metavar="PATH", help="Model directory or hub name.")
        parser.add_argument(
            "--activate",
            action="store_true",
            dest="then_activate",
            help="Then activate it through the activation guard (as activate_model does) "
            "and re-score.",
        )
        parser.add_argument(
            "--force",
            action="store_true",
            help="With --activate: activate even when the guard refuses it.",
        )
        parser.add_argument("--threshold", type=float, default=None)
        parser.add_argument(
            "--source",
            choices=ModelVersion.Source.values,
            default=None,
            help="Default: from the directory's metadata (demo, trained), else configured.",
        )
        parser.add_argument("--base-model", default="")

    def handle(self, *args, path, then_activate, force, threshold, source, base_model, **options):
        is_local = Path(path).exists()
        if is_local and not (Path(path) / "config.json").is_file():
            raise CommandError(f"{path} is not a model directory (no config.json).")
        try:
            model_version = register_model(
                path,
                source=source or source_of(path),
                base_model=base_model,
                threshold=threshold,
                verify=True,
            )
        except ModelNotLoadable as error:
            raise CommandError(f"Not registered: {error}") from None
        self.stdout.write(
            f"Registered {model_version.version} ({model_version.get_source_display()}, "
            f"threshold {model_version.threshold:.4f})."
        )
        if force and not then_activate:
            raise CommandError("--force only applies with --activate.")
        if then_activate:
            try:
                outcome = activate_guarded(
                    model_version, force=force, progress=options.get("verbosity", 1) > 0
                )
            except ModelNotLoadable as error:
                raise CommandError(f"Not activated: {error}") from None
            if outcome.table:
                self.stdout.write(outcome.table)
            if not outcome.activated:
                raise CommandError(
                    f"{outcome.message} {model_version.version} is registered but not active; "
                    f"activate_model {model_version.version} --force overrides the guard."
                )
            self.stdout.write(f"{outcome.message} {outcome.queued} images queued for re-scoring.")
