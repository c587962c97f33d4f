from django.apps import AppConfig


class ClipAnalysisConfig(AppConfig):
    name = "clipanalysis"
    verbose_name = "Image analysis and review"

    def ready(self) -> None:
        # Imported here, not at the top: models and signals need the app registry ready.
        from django_q.signals import post_spawn

        from clipanalysis import signals  # noqa: F401  (connects the save → analyse receivers)
        from clipanalysis.clip_service import locate_scoring_model_with
        from clipanalysis.registry import active_model_location
        from clipanalysis.serving import apply_configured_model_in_worker
        from clipanalysis.sweeper import start_in_worker

        locate_scoring_model_with(active_model_location)
        # Each qcluster worker process sweeps for lapsed leases every ANALYSIS_SWEEP_SECONDS.
        post_spawn.connect(start_in_worker, dispatch_uid="analysis_sweeper")
        # A qcluster started alone (a worker restarted without `serve`) applies a changed
        # CLIP_MODEL_NAME as it spawns, as `serve` and the web application do.
        post_spawn.connect(apply_configured_model_in_worker, dispatch_uid="start_up_model")
