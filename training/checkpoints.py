"""Fine-tuning checkpoints on disk, without pickle.

Why: DESIGN says safetensors only and nothing unpickled from user input, yet a
resumable run needs the optimizer, the scheduler and the RNG, which torch
would normally ``torch.save``. So a checkpoint is a plain model directory
(``save_pretrained``: ``model.safetensors``, ``config.json``, processor files)
plus:

- ``optimizer.safetensors``: every optimizer state tensor, named
  ``<param index>.<key>`` (e.g. ``12.exp_avg``);
- ``optimizer.json``: param groups and any non-tensor state;
- ``rng_state.safetensors``: torch's CPU RNG state (a uint8 tensor);
- ``trainer_state.json``: the scheduler's state and the caller's progress;
  written last, so a directory without it is not a checkpoint.

Directories are built under ``<name>.tmp`` and renamed into place, so an
interrupted save never leaves a half-written model where a reader looks.

Pure core: no Django.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from transformers import CLIPModel, CLIPProcessor

from clipanalysis.model_metadata import write_model_metadata

CHECKPOINT_PREFIX = "checkpoint-"
STATE_FILE = "trainer_state.json"
OPTIMIZER_TENSORS_FILE = "optimizer.safetensors"
OPTIMIZER_META_FILE = "optimizer.json"
RNG_FILE = "rng_state.safetensors"


def save_directory(directory: Path, write: Callable[[Path], None]) -> None:
    """Call ``write`` on ``<name>.tmp``, then swap it into place."""
    building = directory.with_name(directory.name + ".tmp")
    shutil.rmtree(building, ignore_errors=True)
    building.mkdir(parents=True)
    write(building)
    old = directory.with_name(directory.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if directory.exists():
        directory.rename(old)
    building.rename(directory)
    shutil.rmtree(old, ignore_errors=True)


def save_model_dir(
    model: CLIPModel, processor: CLIPProcessor, directory: Path, **metadata: Any
) -> None:
    """A directory ``from_pretrained`` loads, with ``catalog_clip.json`` when metadata is given."""

    def write(building: Path) -> None:
        model.save_pretrained(building)  # safetensors
        processor.save_pretrained(building)
        if metadata:
            write_model_metadata(building, **metadata)

    save_directory(directory, write)


def save_optimizer_state(optimizer: torch.optim.Optimizer, directory: Path) -> None:
    """Tensors into ``optimizer.safetensors``; param groups and scalars into JSON."""
    state = optimizer.state_dict()
    tensors, scalars = {}, {}
    for index, values in state["state"].items():
        for key, value in values.items():
            if torch.is_tensor(value):
                tensors[f"{index}.{key}"] = value.detach().cpu().contiguous()
            else:
                scalars[f"{index}.{key}"] = value
    save_file(tensors, directory / OPTIMIZER_TENSORS_FILE)
    meta = {"param_groups": state["param_groups"], "scalars": scalars}
    (directory / OPTIMIZER_META_FILE).write_text(json.dumps(meta), encoding="utf-8")


def load_optimizer_state(optimizer: torch.optim.Optimizer, directory: Path) -> None:
    """Inverse of ``save_optimizer_state`` (tensors move to the parameters' device on load)."""
    meta = json.loads((directory / OPTIMIZER_META_FILE).read_text(encoding="utf-8"))
    state: dict[int, dict[str, Any]] = {}
    entries = [*load_file(directory / OPTIMIZER_TENSORS_FILE).items(), *meta["scalars"].items()]
    for name, value in entries:
        index, key = name.split(".", 1)
        state.setdefault(int(index), {})[key] = value
    groups = [
        {**group, "betas": tuple(group["betas"])} if "betas" in group else group
        for group in meta["param_groups"]
    ]
    optimizer.load_state_dict({"state": state, "param_groups": groups})


def save_checkpoint(
    directory: Path,
    model: CLIPModel,
    processor: CLIPProcessor,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LambdaLR,
    progress: dict[str, Any],
) -> None:
    """Everything a run needs to continue; ``progress`` must be JSON-serialisable."""

    def write(building: Path) -> None:
        model.save_pretrained(building)
        processor.save_pretrained(building)
        save_optimizer_state(optimizer, building)
        save_file({"torch": torch.get_rng_state()}, building / RNG_FILE)
        # The schedule itself is code; only its counters are state.
        scheduler_state = {
            **scheduler.state_dict(),
            "lr_lambdas": [None] * len(scheduler.lr_lambdas),
        }
        state = {**progress, "scheduler": scheduler_state}
        (building / STATE_FILE).write_text(json.dumps(state, indent=2), encoding="utf-8")

    save_directory(directory, write)


def read_checkpoint_progress(directory: Path) -> dict[str, Any]:
    """The ``progress`` a checkpoint was saved with (plus its ``scheduler`` state)."""
    return json.loads((directory / STATE_FILE).read_text(encoding="utf-8"))


def restore_checkpoint(
    directory: Path,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LambdaLR,
) -> dict[str, Any]:
    """Load optimizer, scheduler and RNG state (the model loads with ``from_pretrained``)."""
    progress = read_checkpoint_progress(directory)
    load_optimizer_state(optimizer, directory)
    scheduler.load_state_dict(progress.pop("scheduler"))
    torch.set_rng_state(load_file(directory / RNG_FILE)["torch"])
    return progress


def list_checkpoints(output_dir: str | Path) -> list[tuple[int, Path]]:
    """Complete checkpoints in ``output_dir`` as ``(step, path)``, oldest first."""
    found = []
    for path in Path(output_dir).glob(f"{CHECKPOINT_PREFIX}*"):
        matched = re.fullmatch(rf"{CHECKPOINT_PREFIX}(\d+)", path.name)
        if matched and (path / STATE_FILE).is_file():
            found.append((int(matched.group(1)), path))
    return sorted(found)


def prune_checkpoints(output_dir: Path, keep: int | None) -> None:
    """Delete all but the newest ``keep`` checkpoints (``None`` keeps all)."""
    if keep is None:
        return
    for _step, path in list_checkpoints(output_dir)[:-keep]:
        shutil.rmtree(path, ignore_errors=True)
