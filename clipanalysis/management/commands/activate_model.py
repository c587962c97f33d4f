from django.core.management.base import BaseCommand, CommandError

from clipanalysis.models import ModelVersion
from clipanalysis.pipeline import rescore_catalog
from clipanalysis.registry import activate, resolve_model_version


class Command(BaseCommand):
    help = (
        "Make a model version the scoring model and queue the catalog for re-scoring with it. "
        "VERSION is a registered version slug or a local model directory (registered first)."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("version", metavar="VERSION")
        parser.add_argument(
            "--no-rescore",
            action="store_true",
            help="Only switch the model; images are scored with it when next saved.",
        )

    def handle(self, *args, version: str, no_rescore: bool, **options) -> None:
        try:
            model_version = resolve_model_version(version)
        except ModelVersion.DoesNotExist as error:
            raise CommandError(str(error)) from None
        activate(model_version)
        queued = 0 if no_rescore else rescore_catalog(model_version)
        self.stdout.write(
            f"Activated {model_version.version} ({model_version.name_or_path}, "
            f"threshold {model_version.threshold:.4f}); "
            f"{queued} images queued for re-scoring."
        )
