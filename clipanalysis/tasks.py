"""django-q2 task functions: thin, JSON-serialisable arguments, logic in the pipeline."""

from __future__ import annotations

from clipanalysis import pipeline


def analyse_image(result_id: int) -> str:
    return pipeline.analyse(result_id)


def analyse_batch(result_ids: list[int]) -> dict[str, int]:
    """One chunk of ``score_catalog --enqueue``: the rows scored as one batch."""
    return pipeline.analyse_batch(result_ids)


def recover_stuck() -> dict[str, int]:
    return pipeline.recover_stuck()
