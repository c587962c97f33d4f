import numpy as np
import pytest
import torch
from transformers import CLIPModel, CLIPProcessor

from clipanalysis.clip_service import ClipService
from tests.verdict_factories import product_with_images, rule
from training.comparison import cosine_scores


@pytest.fixture(scope="module")
def one_torch_thread():
    """Tiny models train several times faster on one thread than on busy shared cores."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def inverted_clip_dir(tmp_path_factory, tiny_clip_dir):
    """The tiny CLIP with its text projection negated: every cosine flips sign, so it ranks
    every pair the other way round (a deliberately worse model where the tiny one is right)."""
    directory = tmp_path_factory.mktemp("inverted-clip")
    model = CLIPModel.from_pretrained(tiny_clip_dir)
    model.text_projection.weight.data.mul_(-1)
    model.save_pretrained(directory, safe_serialization=True)
    CLIPProcessor.from_pretrained(tiny_clip_dir).save_pretrained(directory)
    return directory


@pytest.fixture
def heldout_verdicts(settings, reviewer, scoring_model, tiny_clip_dir):
    """12 held-out products whose verdicts agree with the tiny CLIP's ranking: the half it
    scores highest are matches. Texts name no attribute, so the set is the verdicts alone."""
    settings.TRAINING_HELDOUT_FRACTION = 0.999
    settings.ACTIVATION_GUARD_MIN_PAIRS = 6
    settings.ACTIVATION_GUARD_MIN_SLICE = 1000
    settings.CALIBRATION_MIN_VERDICTS = 6
    images = []
    for index in range(12):
        _, (image,) = product_with_images(f"Listing number {index}", category="", seed=index)
        images.append(image)
    service = ClipService.load(tiny_clip_dir, device="cpu", dtype="float32")
    cosines = cosine_scores(
        service, [i.image.path for i in images], [i.product.description for i in images]
    )
    median = np.median(cosines)
    for image, cosine in zip(images, cosines, strict=True):
        rule(image, "match" if cosine > median else "mismatch", reviewer=reviewer)
    return images
