"""Fixtures the clipanalysis tests share."""

import pytest

from clipanalysis import pipeline


@pytest.fixture
def batches(monkeypatch):
    """The size of every batch computed (the real ``compute_many`` runs)."""
    sizes = []
    real = pipeline.compute_many

    def counting(results):
        sizes.append(len(results))
        return real(results)

    monkeypatch.setattr(pipeline, "compute_many", counting)
    return sizes
