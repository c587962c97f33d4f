"""A ViT-B/32-shaped CLIP with random weights: the real model's cost, no download."""

from __future__ import annotations

from pathlib import Path


def vit_b32_shaped(directory: Path) -> Path:
    """Random weights with openai/clip-vit-base-patch32's configuration."""
    import torch
    from transformers import CLIPConfig, CLIPImageProcessorPil, CLIPModel, CLIPProcessor

    from training.demo.tokenizer import build_clip_tokenizer

    torch.manual_seed(0)
    CLIPModel(CLIPConfig()).save_pretrained(directory)
    processor = CLIPProcessor(
        image_processor=CLIPImageProcessorPil(
            size={"shortest_edge": 224}, crop_size={"height": 224, "width": 224}
        ),
        tokenizer=build_clip_tokenizer(directory),
    )
    processor.save_pretrained(directory)
    return directory
