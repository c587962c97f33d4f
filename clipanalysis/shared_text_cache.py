"""Text embeddings shared by every process through the Django cache (Redis in production).

Each worker process keeps its own small dict of text embeddings (``ClipService``);
this tier lets a text one process encoded be read by the others (web processes
scoring uploads, every qcluster worker, every machine) instead of being encoded
again. Keys name the model by its files and dtype, so another checkpoint, or the
same directory saved again, never reads old vectors. A cache that is down costs a
log line and an encoder call, never a failed analysis.

Pure core: the cache object is handed in; nothing here knows about models.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np
import torch

logger = logging.getLogger(__name__)

# Long enough for a catalog's descriptions and prompts to stay warm for weeks.
DEFAULT_TIMEOUT_SECONDS = 30 * 24 * 3600
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin", "config.json")


def model_namespace(model_name: str, dtype: torch.dtype) -> str:
    """A short id of the model's weights as loaded: name, dtype and, for a local
    directory, the size and modification time of its weight files."""
    parts = [model_name, str(dtype)]
    directory = Path(model_name)
    if directory.is_dir():
        for name in WEIGHT_FILES:
            path = directory / name
            if path.is_file():
                stat = path.stat()
                parts.append(f"{name}:{stat.st_size}:{stat.st_mtime_ns}")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:24]


class SharedTextEmbeddings:
    """``get_many`` / ``set_many`` of float32 vectors under one model's namespace."""

    def __init__(self, cache, namespace: str, timeout: int = DEFAULT_TIMEOUT_SECONDS):
        self.cache = cache
        self.namespace = namespace
        self.timeout = timeout

    def _key(self, text: str) -> str:
        digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
        return f"clip-text:{self.namespace}:{digest}"

    def get_many(self, texts: Iterable[str]) -> dict[str, torch.Tensor]:
        keys = {self._key(text): text for text in texts}
        if not keys:
            return {}
        try:
            found = self.cache.get_many(list(keys))
        except Exception as error:  # Redis down or timing out: encode instead
            logger.warning("Shared text-embedding cache unavailable: %s", error)
            return {}
        return {
            keys[key]: torch.from_numpy(np.frombuffer(value, dtype=np.float32).copy())
            for key, value in found.items()
        }

    def set_many(self, embeddings: Mapping[str, torch.Tensor]) -> None:
        values = {
            self._key(text): vector.detach().to(torch.float32).cpu().numpy().tobytes()
            for text, vector in embeddings.items()
        }
        try:
            self.cache.set_many(values, timeout=self.timeout)
        except Exception as error:
            logger.warning("Shared text-embedding cache unavailable: %s", error)


def missing_from(texts: Sequence[str], known: Mapping[str, object]) -> list[str]:
    """The distinct texts (in order) not in ``known``."""
    return list(dict.fromkeys(text for text in texts if text not in known))
