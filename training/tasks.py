"""django-q2 tasks of the training app (thin: they call ``training.improvement``)."""

from __future__ import annotations

from training.improvement import improve_model, running


def improve_model_task(trigger: str = "weekly") -> int | None:
    """Run the loop in a worker (queued with ``IMPROVE_MODEL_TIMEOUT``); exits quietly when
    another run got there first. Returns the run's id."""
    if running() is not None:
        return None
    return improve_model(trigger=trigger).pk
