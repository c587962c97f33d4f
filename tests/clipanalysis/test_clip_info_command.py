"""``manage.py clip_info``: what the scoring model is."""

from io import StringIO

import pytest
from django.core.management import call_command
from transformers import CLIPModel

pytestmark = pytest.mark.django_db


def test_describes_the_active_model(tiny_clip_dir, clean_clip_services):
    out = StringIO()

    call_command("clip_info", stdout=out)

    parameters = sum(p.numel() for p in CLIPModel.from_pretrained(tiny_clip_dir).parameters())
    text = out.getvalue()
    assert f"Model: {tiny_clip_dir}" in text
    assert "Device: cpu" in text
    assert "Dtype: float32" in text
    assert "Threshold: 0.2500" in text
    assert "Projection dim: 16" in text
    assert f"Parameters: {parameters:,}" in text


def test_says_when_clip_model_name_is_not_the_active_model(
    settings, tiny_clip_dir, other_clip_dir, clean_clip_services
):
    from clipanalysis.registry import active_model

    active = active_model()
    settings.CLIP_MODEL_NAME = str(other_clip_dir)
    out = StringIO()
    call_command("clip_info", stdout=out)
    assert f"Model: {tiny_clip_dir}" in out.getvalue()
    assert f"CLIP_MODEL_NAME={other_clip_dir} is not the active model ({active.version})" in (
        out.getvalue()
    )
    assert "the next start (`manage.py serve`, the web application or a queue worker)" in (
        out.getvalue()
    )
