"""Community pretrained G/D files (``f0G40k.pth`` / ``f0D40k.pth``: ``{"model": state_dict}``).

They are checked against the networks before anything runs; a file of another kind, rate,
version or f0 setting is named as such in one line.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from models.errors import ModelFormatError
from training.wnorm import match_naming


class PretrainedMismatchError(ModelFormatError):
    """A pretrained file does not fit the network being trained."""


def _state_dict(obj: Any, path: Path, role: str) -> dict[str, torch.Tensor]:
    if isinstance(obj, Mapping) and "weight" in obj and "config" in obj:
        raise PretrainedMismatchError(
            f"{path.name} is an exported voice file (fp16, no enc_q), not a pretrained {role}; "
            "use the matching f0G/f0D pretrained files"
        )
    sd = obj.get("model", obj) if isinstance(obj, Mapping) else None
    if not isinstance(sd, Mapping) or not sd or not all(isinstance(v, torch.Tensor) for v in sd.values()):
        raise PretrainedMismatchError(f"{path.name} is not a pretrained {role} (no state dict of tensors)")
    return dict(sd)


def load_pretrained(path: str | Path, net: nn.Module, role: str, what: str) -> None:
    """Loads ``path`` into ``net`` strictly; ``role`` is "generator"/"discriminator", ``what`` names
    the expected variant (e.g. "v2 40k with f0") for the error message."""
    from models.checkpoint import safe_load

    path = Path(path)
    if not path.is_file():
        raise PretrainedMismatchError(f"pretrained {role} {path} does not exist")
    sd = _state_dict(safe_load(path), path, role)
    target = net.state_dict()
    sd = match_naming(sd, set(target))
    missing = sorted(set(target) - set(sd))
    unexpected = sorted(set(sd) - set(target))
    wrong = [k for k in target if k in sd and tuple(sd[k].shape) != tuple(target[k].shape)]
    if missing or unexpected or wrong:
        detail = "; ".join(
            f"{label} {len(keys)} (e.g. {keys[0]})"
            for label, keys in (("missing", missing), ("unexpected", unexpected), ("wrong shape", wrong))
            if keys
        )
        raise PretrainedMismatchError(f"{path.name} is not a pretrained {role} for {what}: {detail}")
    net.load_state_dict({k: v.to(target[k].dtype) for k, v in sd.items()}, strict=True)
