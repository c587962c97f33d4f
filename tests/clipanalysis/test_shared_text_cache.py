"""The text-embedding cache shared through Redis: a text one process encoded is read,
not encoded again, by another process's service; a cache that is down costs nothing but
an encoder call."""

from __future__ import annotations

import os
import uuid

import pytest
import redis
import torch
from django.core.cache.backends.redis import RedisCache

from clipanalysis.clip_service import ClipService
from clipanalysis.shared_text_cache import SharedTextEmbeddings, model_namespace
from tests.live_server import free_port

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/2")


def redis_reachable() -> bool:
    try:
        return bool(redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


def redis_cache(location: str = REDIS_URL) -> RedisCache:
    prefix = f"test-{uuid.uuid4().hex[:8]}"  # nothing left over from another run is read
    return RedisCache(location, {"KEY_PREFIX": prefix, "OPTIONS": {"socket_connect_timeout": 1}})


def process_service(tiny_clip_dir, cache) -> tuple[ClipService, list[int]]:
    """What one process holds: its own loaded model and empty local cache."""
    service = ClipService.load(tiny_clip_dir, device="cpu", dtype="float32")
    service.shared_text_cache = SharedTextEmbeddings(
        cache, model_namespace(service.model_name, service.dtype)
    )
    calls: list[int] = []
    real = service.model.get_text_features

    def counting(**inputs):
        calls.append(int(inputs["input_ids"].shape[0]))
        return real(**inputs)

    service.model.get_text_features = counting
    return service, calls


@pytest.mark.skipif(not redis_reachable(), reason=f"no Redis at {REDIS_URL}")
def test_a_text_encoded_in_one_process_is_read_by_another(tiny_clip_dir):
    cache = redis_cache()
    texts = ["Red cotton t-shirt", "Blue ceramic mug", "Red cotton t-shirt"]
    first, first_calls = process_service(tiny_clip_dir, cache)
    second, second_calls = process_service(tiny_clip_dir, cache)

    expected = first.text_embeddings(texts)
    got = second.text_embeddings(texts)

    assert first_calls == [2]  # two distinct texts, encoded once
    assert second_calls == []  # the other process read them from Redis
    assert torch.allclose(expected, got)
    second.text_embeddings(["Green wool scarf"])
    assert second_calls == [1]  # a new text is still encoded


@pytest.mark.skipif(not redis_reachable(), reason=f"no Redis at {REDIS_URL}")
def test_another_model_never_reads_the_first_ones_vectors(tiny_clip_dir, other_clip_dir):
    cache = redis_cache()
    first, _ = process_service(tiny_clip_dir, cache)
    other, other_calls = process_service(other_clip_dir, cache)
    first.text_embeddings(["Red cotton t-shirt"])
    other.text_embeddings(["Red cotton t-shirt"])
    assert other_calls == [1]


def test_a_cache_that_is_down_costs_an_encoder_call_not_an_error(tiny_clip_dir):
    down = redis_cache(f"redis://127.0.0.1:{free_port()}/0")
    service, calls = process_service(tiny_clip_dir, down)
    embeddings = service.text_embeddings(["Red cotton t-shirt"])
    assert calls == [1] and embeddings.shape[0] == 1
