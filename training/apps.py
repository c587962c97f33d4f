from django.apps import AppConfig


class TrainingConfig(AppConfig):
    name = "training"
    verbose_name = "Training and models"

    def ready(self) -> None:
        # Imported here, not at the top: the guard needs the app registry ready. The
        # scorer's admin activates through it (clipanalysis cannot import training).
        from clipanalysis.registry import guard_activations_with
        from training.activation_guard import guard_for_the_scorer

        guard_activations_with(guard_for_the_scorer)
