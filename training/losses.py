"""The training losses: reviewers' verdicts (fine-tuning) and multi-positive CLIP (demo).

Why one module: both are the symmetric CLIP contrastive loss on L2-normalised
embeddings, with the extras each training needs next to each other:

- ``verdict_loss``: one positive per row (``match`` rows), plus a pairwise
  ranking loss that pushes every ``mismatch`` pair below the batch's matches;
- ``contrastive_loss``: several positives per row (the synthetic catalog has
  few distinct claims, so a batch holds many texts true of the same image).

Pure core: torch only.
"""

from __future__ import annotations

import torch
from torch.nn.functional import cross_entropy, softplus


def verdict_loss(
    image_embeddings: torch.Tensor,
    text_embeddings: torch.Tensor,
    logit_scale: torch.Tensor,
    is_match: torch.Tensor,
    negative_loss_weight: float = 1.0,
) -> tuple[torch.Tensor, dict[str, float]]:
    """Symmetric CLIP loss over the batch's match rows plus the mismatch ranking loss.

    Embeddings are L2-normalised, row ``i`` being image ``i`` with text ``i``.
    Two match rows with the same image or the same text have identical
    embeddings there, and with identical logits a one-hot target on each row
    costs exactly what a target shared between them would, so duplicates need
    no special case. Returns the total and its two parts (floats, for logs).
    """
    scale = logit_scale.exp()
    cosines = (image_embeddings * text_embeddings).sum(dim=-1)
    zero = cosines.sum() * 0.0
    matches = torch.nonzero(is_match).flatten()
    mismatches = torch.nonzero(~is_match).flatten()

    contrastive = zero
    if len(matches) >= 2:
        logits = scale * image_embeddings[matches] @ text_embeddings[matches].T
        targets = torch.arange(len(matches), device=logits.device)
        contrastive = (cross_entropy(logits, targets) + cross_entropy(logits.T, targets)) / 2

    negative = zero
    if len(matches) and len(mismatches):
        gaps = cosines[mismatches][:, None] - cosines[matches][None, :]
        negative = softplus(scale * gaps).mean()

    total = contrastive + negative_loss_weight * negative
    return total, {"contrastive": float(contrastive.detach()), "negative": float(negative.detach())}


def contrastive_loss(logits: torch.Tensor, positives: torch.Tensor) -> torch.Tensor:
    """Symmetric CLIP loss with several positives per row: the target spreads evenly
    over every text that is true of the image (and every image the text is true of).

    ``logits[i, j]`` scores image ``i`` with text ``j``; ``positives[i, j]`` says
    whether text ``j`` is true of image ``i`` (every row and column needs one).
    """
    targets = positives.float()
    image_to_text = -(targets / targets.sum(1, keepdim=True) * logits.log_softmax(1)).sum(1)
    text_to_image = -(targets.T / targets.T.sum(1, keepdim=True) * logits.T.log_softmax(1)).sum(1)
    return (image_to_text.mean() + text_to_image.mean()) / 2
