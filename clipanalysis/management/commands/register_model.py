from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from clipanalysis.models import ModelVersion
from clipanalysis.pipeline import rescore_catalog
from clipanalysis.registry import ModelNotLoadable, activate, register_model, source_of


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
            help="Activate it and re-score.",
        )
        parser.add_argument("--threshold", type=float, default=None)
        parser.add_argument(
            "--source",
            choices=ModelVersion.Source.values,
            default=None,
            help="Default: from the directory's metadata (demo, trained), else configured.",
        )
        parser.add_argument("--base-model", default="")

    def handle(self, *args, path, then_activate, threshold, source, base_model, **options):
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
        if then_activate:
            # Just loaded and scored above; no second load check.
            queued = rescore_catalog(
                activate(model_version, check=False),
                progress=options.get("verbosity", 1) > 0,
            )
            self.stdout.write(f"Activated it; {queued} images queued for re-scoring.")
