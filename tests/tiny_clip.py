"""Tiny, randomly initialised CLIP checkpoints for tests (built offline in seconds)."""

from __future__ import annotations

from pathlib import Path

import torch
from transformers import CLIPConfig, CLIPImageProcessorPil, CLIPModel, CLIPProcessor

from training.demo.tokenizer import build_clip_tokenizer

IMAGE_SIZE = 32


def build_tiny_clip(output_dir: str | Path, seed: int = 0) -> Path:
    """Save a CLIP with 2 small layers per tower, the real CLIP tokenizer and 32-px inputs."""
    output = Path(output_dir)
    torch.manual_seed(seed)
    config = CLIPConfig(
        text_config={
            "vocab_size": 49408,
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_hidden_layers": 2,
            "num_attention_heads": 2,
            "max_position_embeddings": 77,
        },
        vision_config={
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_hidden_layers": 2,
            "num_attention_heads": 2,
            "image_size": IMAGE_SIZE,
            "patch_size": 8,
        },
        projection_dim=16,
    )
    model = CLIPModel(config)
    model.save_pretrained(output)
    tokenizer = build_clip_tokenizer(output)
    image_processor = CLIPImageProcessorPil(
        size={"shortest_edge": IMAGE_SIZE}, crop_size={"height": IMAGE_SIZE, "width": IMAGE_SIZE}
    )
    CLIPProcessor(image_processor=image_processor, tokenizer=tokenizer).save_pretrained(output)
    return output
