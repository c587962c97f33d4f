"""What travels with a model directory besides its weights.

``catalog_clip.json`` sits next to ``config.json`` and holds the decision
threshold chosen from the model's own score distribution, the base model, a
summary of the training data and evaluation metrics. A threshold therefore
travels with the checkpoint: registering a directory reads it, and only a model
without one falls back to ``CLIP_SIMILARITY_THRESHOLD``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

METADATA_FILENAME = "catalog_clip.json"


def read_model_metadata(model_dir: str | Path) -> dict[str, Any]:
    """The metadata of a local model directory; ``{}`` for hub names or plain checkpoints."""
    path = Path(model_dir) / METADATA_FILENAME
    if not path.is_file():
        return {}
    return json.loads(path.read_text(encoding="utf-8"))


def write_model_metadata(model_dir: str | Path, **fields: Any) -> dict[str, Any]:
    """Merge ``fields`` into the directory's metadata file and return the result."""
    metadata = read_model_metadata(model_dir)
    metadata.update(fields)
    path = Path(model_dir) / METADATA_FILENAME
    path.write_text(json.dumps(metadata, indent=2, sort_keys=True, default=str), encoding="utf-8")
    return metadata
