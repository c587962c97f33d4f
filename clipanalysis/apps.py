from django.apps import AppConfig


class ClipAnalysisConfig(AppConfig):
    name = "clipanalysis"
    verbose_name = "Image analysis and review"

    def ready(self) -> None:
        from clipanalysis import signals  # noqa: F401  (connects the save → analyse receivers)
