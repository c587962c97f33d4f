"""The settings of a fine-tuning run (``training.finetune``).

Why a module of its own: the run, its checkpoints and ``manage.py train_clip``
all read them, and a resumed run must share the ones that shape the result
(``run_defining``) with the run it continues.

Pure core: no Django.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

# Settings that may change between a run and its resumption without changing the result.
RESUMABLE_CHANGES = frozenset({"save_steps", "save_total_limit", "device"})


@dataclass(frozen=True)
class FineTuneConfig:
    """Hyper-parameters. ``freeze_*_layers=N`` freezes a tower's embeddings and lowest N layers."""

    epochs: int = 3
    batch_size: int = 8
    lr: float = 5e-6
    save_steps: int = 100
    grad_accum_steps: int = 1
    freeze_vision_layers: int = 0
    freeze_text_layers: int = 0
    seed: int = 0
    weight_decay: float = 0.1
    negative_loss_weight: float = 1.0
    # L2-SP: weight of sum((w - w_start)^2) over the trainable weights, a pull toward
    # the starting model instead of toward zero (what it learnt stays reachable).
    anchor_weight: float = 0.0
    warmup_ratio: float = 0.1
    max_grad_norm: float = 1.0
    save_total_limit: int | None = 3  # checkpoints kept (oldest deleted); None keeps all
    device: str = "cpu"

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size", "save_steps", "grad_accum_steps"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1.")
        if self.lr <= 0:
            raise ValueError("lr must be positive.")
        if self.freeze_vision_layers < 0 or self.freeze_text_layers < 0:
            raise ValueError("freeze_*_layers must be 0 or more.")
        if self.anchor_weight < 0:
            raise ValueError("anchor_weight must be 0 or more.")
        if not 0.0 <= self.warmup_ratio < 1.0:
            raise ValueError("warmup_ratio must be at least 0 and below 1.")
        if self.save_total_limit is not None and self.save_total_limit < 1:
            raise ValueError("save_total_limit must be at least 1 (or None).")

    def run_defining(self) -> dict[str, Any]:
        """The settings a resumed run must share with the run it continues."""
        return {
            item.name: getattr(self, item.name)
            for item in fields(self)
            if item.name not in RESUMABLE_CHANGES
        }


# What ``improve_model`` fine-tunes with when the operator names no setting, by lineage:
# a pretrained CLIP (``openai/clip-vit-base-patch32`` and its fine-tunes) needs small
# steps, or it forgets what it learnt from 400M pairs; the offline demo model is small
# and trained from scratch here, and moves only with larger ones (the recipe
# ``benchmarks/finetune_from_verdicts.py`` measured, README "Learning from verdicts").
PRETRAINED_RECIPE = FineTuneConfig(epochs=3, batch_size=8, lr=5e-6, save_steps=10_000)
DEMO_RECIPE = FineTuneConfig(epochs=15, batch_size=64, lr=1e-4, save_steps=10_000)
