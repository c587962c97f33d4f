"""django-q2 task functions: thin, JSON-serialisable arguments, logic in the pipeline."""

from __future__ import annotations

from clipanalysis import pipeline


def analyse_image(result_id: int) -> str:
    return pipeline.analyse(result_id)


def recover_stuck() -> dict[str, int]:
    return pipeline.recover_stuck()
