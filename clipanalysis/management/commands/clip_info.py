from django.core.management.base import BaseCommand

from clipanalysis.management.commands._model_option import add_model_arguments, scoring_service
from clipanalysis.serving import configuration_note


class Command(BaseCommand):
    help = "Describe the scoring CLIP model: location, device, dtype, threshold, size."

    def add_arguments(self, parser) -> None:
        add_model_arguments(parser)

    def handle(self, *args, model, threshold, **options) -> None:
        service = scoring_service(model, threshold)
        parameters = sum(parameter.numel() for parameter in service.model.parameters())
        self.stdout.write(
            "\n".join(
                [
                    f"Model: {service.model_name}",
                    f"Device: {service.device}",
                    f"Dtype: {str(service.dtype).removeprefix('torch.')}",
                    f"Threshold: {service.threshold:.4f}",
                    f"Projection dim: {service.embedding_dim}",
                    f"Parameters: {parameters:,}",
                ]
            )
        )
        note = configuration_note() if model is None else None
        if note:
            self.stdout.write(self.style.WARNING(note))
