"""The CLIP service against a tiny checkpoint built in a temporary directory."""

import pytest
import torch
from PIL import Image
from transformers import CLIPModel, CLIPProcessor

from clipanalysis.clip_service import (
    ClipService,
    ModelLoadError,
    get_clip_service,
    letterbox_for_model,
    match_status,
)
from tests.factories import packshot


@pytest.fixture(scope="module")
def service(tiny_clip_dir) -> ClipService:
    return ClipService.load(tiny_clip_dir, device="cpu", dtype="float32")


def images():
    return [
        packshot(colour=(200, 30, 30)),
        packshot(colour=(30, 30, 200), size=(300, 500)),
        Image.new("RGB", (50, 2000), (20, 160, 40)),
    ]


TEXTS = ["Red cotton t-shirt", "Blue ceramic mug, 350 ml", "Green bottle"]


def test_similarity_equals_a_direct_transformers_computation(service, tiny_clip_dir):
    model = CLIPModel.from_pretrained(tiny_clip_dir).eval()
    processor = CLIPProcessor.from_pretrained(tiny_clip_dir)
    image = packshot(colour=(200, 30, 30))
    inputs = processor(text=[TEXTS[0]], images=[image], return_tensors="pt", padding=True)
    with torch.no_grad():
        outputs = model(**inputs)
    expected = torch.nn.functional.cosine_similarity(outputs.image_embeds, outputs.text_embeds)

    got = service.cosine_similarities([image], [TEXTS[0]])

    assert got[0].item() == pytest.approx(expected[0].item(), abs=1e-5)
    assert service.compute_similarity(image, TEXTS[0]) == pytest.approx(
        min(max(expected[0].item(), 0.0), 1.0), abs=1e-5
    )


def test_batch_equals_single(service):
    batch = service.cosine_similarities(images(), TEXTS)
    singles = [
        service.cosine_similarities([image], [text])[0]
        for image, text in zip(images(), TEXTS, strict=True)
    ]
    assert batch.tolist() == pytest.approx([s.item() for s in singles], abs=1e-5)
    assert len(service.batch_compute_similarity(images(), TEXTS)) == 3


def test_batch_needs_as_many_texts_as_images(service):
    with pytest.raises(ValueError, match="2 images but 1 texts"):
        service.batch_compute_similarity(images()[:2], TEXTS[:1])


def test_zero_shot_probabilities_sum_to_one_and_are_ranked(service):
    labels = ["t-shirt", "mug", "lamp", "shoe"]
    result = service.zero_shot_classify(packshot(), labels)
    assert set(result) == set(labels)
    assert sum(result.values()) == pytest.approx(1.0, abs=1e-5)
    assert list(result.values()) == sorted(result.values(), reverse=True)


def test_analyze_image_text_match_returns_the_seed_shape(service, tmp_path):
    path = tmp_path / "shirt.png"
    packshot().save(path)
    result = service.analyze_image_text_match(
        path, "Red cotton t-shirt", threshold=0.0, use_zero_shot=True, zero_shot_labels=["a", "b"]
    )
    assert result["is_match"] is True  # every score is >= 0
    assert result["status"] == match_status(result["similarity_score"], True)
    assert result["status"].startswith("Match (score: ")
    assert set(result["zero_shot_results"]) == {"a", "b"}
    strict = service.analyze_image_text_match(path, "Red cotton t-shirt", threshold=1.01)
    assert strict["is_match"] is False and strict["zero_shot_results"] is None


def test_bfloat16_scores_stay_close_to_float32(service, tiny_clip_dir):
    bf16 = ClipService.load(tiny_clip_dir, device="cpu", dtype="bfloat16")
    assert bf16.dtype == torch.bfloat16
    full = service.cosine_similarities(images(), TEXTS)
    half = bf16.cosine_similarities(images(), TEXTS)
    assert (full - half).abs().max().item() <= 0.01


def test_unloadable_model_raises_a_clear_error(tmp_path):
    with pytest.raises(ModelLoadError, match="Could not load CLIP model"):
        ClipService.load(tmp_path / "missing-model", device="cpu")


@pytest.mark.django_db
def test_get_clip_service_serves_the_active_model_once_per_process(clean_clip_services):
    first = get_clip_service()
    assert get_clip_service() is first
    assert first.model_name.endswith("tiny-clip0")


def test_text_cache_overflow_within_one_call_still_returns_every_embedding(tiny_clip_dir):
    service = ClipService.load(tiny_clip_dir, device="cpu", dtype="float32", batch_size=4)
    service._text_cache_limit = 6
    service.text_embeddings(["warm one", "warm two", "warm three"])
    texts = [f"product number {i}" for i in range(10)]
    embeddings = service.text_embeddings(texts)
    assert embeddings.shape[0] == 10
    assert torch.allclose(embeddings[0], service.text_embeddings([texts[0]])[0], atol=1e-6)


def test_long_strip_is_letterboxed_for_the_model():
    strip = Image.new("RGB", (1000, 10), "red")
    boxed = letterbox_for_model(strip)
    assert boxed.size == (1000, 500)
    assert boxed.getpixel((500, 250)) == (255, 0, 0)
    assert boxed.getpixel((0, 0)) == (255, 255, 255)
