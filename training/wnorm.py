"""Weight-norm key naming: community files use ``weight_g``/``weight_v``; torch's parametrization
API names the same tensors ``parametrizations.weight.original0``/``original1``."""

from __future__ import annotations

from collections.abc import Mapping

import torch

_NEW = (".parametrizations.weight.original0", ".parametrizations.weight.original1")
_OLD = (".weight_g", ".weight_v")


def to_community(sd: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Parametrization names -> ``weight_g``/``weight_v`` (other keys unchanged)."""
    out = {}
    for k, v in sd.items():
        for new, old in zip(_NEW, _OLD, strict=True):
            if k.endswith(new):
                k = k[: -len(new)] + old
                break
        out[k] = v
    return out


def match_naming(sd: Mapping[str, torch.Tensor], target_keys: set[str]) -> dict[str, torch.Tensor]:
    """Renames weight-norm keys of ``sd`` to the convention used by ``target_keys``."""
    out = {}
    for k, v in sd.items():
        if k not in target_keys:
            for a, b in (*zip(_OLD, _NEW, strict=True), *zip(_NEW, _OLD, strict=True)):
                if k.endswith(a) and k[: -len(a)] + b in target_keys:
                    k = k[: -len(a)] + b
                    break
        out[k] = v
    return out
