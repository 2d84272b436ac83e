"""Self-describing training checkpoints, written atomically and resumed exactly.

A checkpoint holds the generator and discriminator, both optimizers and schedulers, the loss
scaler, the step, epoch and position inside the epoch, the held-out history, the training config
and every rank's RNG state. Our own files are read with ``weights_only=True``.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from models.errors import VoxshiftError
from training.fsutil import atomic_torch_save

FORMAT = "voxshift-rvc-train-1"
_NAME = re.compile(r"ckpt_(\d{8})\.pt$")


class ResumeError(VoxshiftError):
    """The experiment folder holds a run that cannot be continued with these settings."""


def rng_state() -> dict[str, Any]:
    """This process's RNG states as plain Python values (picklable for gathering, weights-only safe)."""
    py = random.getstate()
    np_state: Any = np.random.get_state()
    state: dict[str, Any] = {
        "python": [py[0], list(py[1]), py[2]],
        "numpy": [np_state[0], np.asarray(np_state[1]).tolist(), *(np_state[2:])],
        "torch": torch.get_rng_state().tolist(),
    }
    if torch.cuda.is_available():
        state["cuda"] = [t.tolist() for t in torch.cuda.get_rng_state_all()]
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    py = state["python"]
    random.setstate((py[0], tuple(py[1]), py[2]))
    np_state = state["numpy"]
    np.random.set_state((np_state[0], np.asarray(np_state[1], dtype=np.uint32), *np_state[2:]))
    torch.set_rng_state(torch.tensor(state["torch"], dtype=torch.uint8))
    cuda = state.get("cuda")
    if cuda and torch.cuda.is_available() and len(cuda) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all([torch.tensor(t, dtype=torch.uint8) for t in cuda])


def checkpoint_path(directory: Path, step: int) -> Path:
    return directory / f"ckpt_{step:08d}.pt"


def list_checkpoints(directory: Path) -> list[Path]:
    """Checkpoints in ``directory``, newest (highest step) first."""
    if not directory.is_dir():
        return []
    found = [p for p in directory.iterdir() if _NAME.search(p.name)]
    return sorted(found, key=lambda p: int(_NAME.search(p.name).group(1)), reverse=True)  # type: ignore[union-attr]


@dataclass(frozen=True)
class Loaded:
    path: Path
    data: dict[str, Any]


def load_latest(directory: Path) -> Loaded | None:
    """The newest readable checkpoint; unreadable ones (a disk that filled up) are skipped."""
    for path in list_checkpoints(directory):
        try:
            data = torch.load(path, map_location="cpu", weights_only=True)
        except (RuntimeError, OSError, EOFError, ValueError):
            continue
        if isinstance(data, dict) and data.get("format") == FORMAT:
            return Loaded(path, data)
    return None


def save(data: dict[str, Any], directory: Path, step: int, keep: int) -> Path:
    """Writes ``ckpt_<step>.pt`` atomically, then deletes all but the newest ``keep``."""
    path = checkpoint_path(directory, step)
    atomic_torch_save({"format": FORMAT, **data}, path)
    for old in list_checkpoints(directory)[keep:]:
        old.unlink(missing_ok=True)
    return path
