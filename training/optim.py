"""The optimizer, learning-rate schedule and optimizer step both trainings use.

Why: fine-tuning on verdicts and training the demo model from scratch follow
the usual CLIP recipe, AdamW without weight decay on biases, norms, embeddings
and the logit scale (decaying those only shrinks them towards zero), with a
linear warm-up then a cosine decay to zero. The two differ only in the numbers
(betas, eps, weight decay, warm-up length), which callers pass. Each step clips
the gradient norm and keeps the logit scale within CLIP's bounds (``optimizer_step``).

The schedule is ``transformers.get_cosine_schedule_with_warmup``: a
``LambdaLR`` whose lambda is a ``functools.partial``, so its ``state_dict`` holds
only counters and ``training.checkpoints`` saves and restores it as JSON.

Pure core: torch and transformers.
"""

from __future__ import annotations

import math

import torch
from transformers import get_cosine_schedule_with_warmup

# CLIP's cap on the logit scale: a temperature of at least 1/100.
MAX_LOGIT_SCALE = math.log(100.0)


def decays(name: str, parameter: torch.nn.Parameter) -> bool:
    """Whether weight decay applies: matrices only, never embeddings or the logit scale."""
    return parameter.ndim >= 2 and "embedding" not in name and name != "logit_scale"


def adamw_with_cosine_schedule(
    model: torch.nn.Module,
    *,
    lr: float,
    total_steps: int,
    warmup_steps: int,
    weight_decay: float,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
) -> tuple[torch.optim.AdamW, torch.optim.lr_scheduler.LambdaLR]:
    """AdamW over the trainable parameters in two groups (decayed, not decayed) and its
    schedule: linear warm-up over ``warmup_steps``, then cosine decay to 0 at ``total_steps``.

    Groups are in that order, each in ``named_parameters`` order, so a checkpoint's
    optimizer state lines up with the same model's parameters on resume.
    """
    decay, no_decay = [], []
    for name, parameter in model.named_parameters():
        if parameter.requires_grad:
            (decay if decays(name, parameter) else no_decay).append(parameter)
    optimizer = torch.optim.AdamW(
        [
            {"params": decay, "weight_decay": weight_decay},
            {"params": no_decay, "weight_decay": 0.0},
        ],
        lr=lr,
        betas=betas,
        eps=eps,
    )
    return optimizer, get_cosine_schedule_with_warmup(optimizer, warmup_steps, total_steps)


def optimizer_step(
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    max_grad_norm: float,
) -> None:
    """After ``backward``: clip the gradient norm, step optimizer and schedule, clear the
    gradients, and keep the CLIP logit scale (a log temperature) within [0, log 100]."""
    trainable = [p for p in model.parameters() if p.requires_grad]
    torch.nn.utils.clip_grad_norm_(trainable, max_grad_norm)
    optimizer.step()
    scheduler.step()
    optimizer.zero_grad(set_to_none=True)
    with torch.no_grad():
        model.logit_scale.clamp_(0, MAX_LOGIT_SCALE)
