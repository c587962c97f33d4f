from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from catalog.imaging import BadImageError
from clipanalysis.management.commands._model_option import add_model_arguments, scoring_service


class Command(BaseCommand):
    help = 'Score one image against one text: prints e.g. "Match (score: 0.842)".'

    def add_arguments(self, parser) -> None:
        parser.add_argument("--image", required=True, help="Image file.")
        parser.add_argument("--text", required=True, help="Product description.")
        parser.add_argument("--zero-shot", action="store_true", help="Also classify the image.")
        parser.add_argument(
            "--labels",
            default=None,
            help="Comma-separated zero-shot labels. Default: CLIP_ZERO_SHOT_LABELS.",
        )
        add_model_arguments(parser)

    def handle(self, *args, image, text, zero_shot, labels, model, threshold, **options) -> None:
        service = scoring_service(model, threshold)
        choices = (
            [label.strip() for label in labels.split(",") if label.strip()]
            if labels
            else list(settings.CLIP_ZERO_SHOT_LABELS)
        )
        try:
            result = service.analyze_image_text_match(
                image, text, threshold, use_zero_shot=zero_shot, zero_shot_labels=choices
            )
        except (BadImageError, OSError) as error:
            raise CommandError(f"{image}: {error}") from error
        self.stdout.write(result["status"])
        self.stdout.write(
            f"similarity_score {result['similarity_score']:.4f}, "
            f"threshold {result['threshold']:.4f}, model {result['model_name']}"
        )
        for label, probability in (result["zero_shot_results"] or {}).items():
            self.stdout.write(f"  {label:<24}{probability:.3f}")
