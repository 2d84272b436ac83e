"""State-dict conversions between the community layout and our modules (the one adapter).

Community files store weight norm as ``<m>.weight_g`` / ``<m>.weight_v`` (old torch API) or
``<m>.parametrizations.weight.original0`` / ``.original1`` (new API). Inference models hold the
folded ``<m>.weight = g * v / ||v||`` (norm over all dims but 0); training models keep the
parametrization.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor, nn

from models.errors import ModelFormatError
from models.kinds import WeightNorm
from models.memory import load_assigned
from models.rvc.net import weight_norm_modules

OLD = ("weight_g", "weight_v")
NEW = ("parametrizations.weight.original0", "parametrizations.weight.original1")
_NAMES = {WeightNorm.OLD: OLD, WeightNorm.NEW: NEW}
"""The (g, v) key suffixes of each naming."""


def _names(style: WeightNorm) -> tuple[str, str]:
    if style not in _NAMES:
        raise ValueError(f"weight-norm naming must be OLD or NEW, got {style}")
    return _NAMES[style]


def _effective_weight(g: Tensor, v: Tensor) -> Tensor:
    """``g * v / ||v||`` in float32, with the norm over every dim but 0 (torch's own kernel)."""
    return torch._weight_norm(v.float(), g.float(), 0)


def _pair(sd: Mapping[str, Tensor], module: str) -> tuple[Tensor, Tensor] | None:
    for g_name, v_name in (OLD, NEW):
        g, v = sd.get(f"{module}.{g_name}"), sd.get(f"{module}.{v_name}")
        if g is not None and v is not None:
            return g, v
    return None


def fold_state_dict(sd: Mapping[str, Tensor], wn_modules: list[str]) -> dict[str, Tensor]:
    """Community state dict (either naming) -> plain ``<m>.weight`` for every weight-norm layer.

    Keys that belong to neither naming are passed through unchanged (strict loading reports them).
    """
    out = dict(sd)
    for m in wn_modules:
        pair = _pair(sd, m)
        if pair is None:
            continue
        for names in (OLD, NEW):
            for n in names:
                out.pop(f"{m}.{n}", None)
        out[f"{m}.weight"] = _effective_weight(*pair)
    return out


def community_keys(model: nn.Module, style: WeightNorm = WeightNorm.OLD) -> list[str]:
    """The keys a community file of this model holds (``style``: OLD or NEW weight-norm names)."""
    wn = set(weight_norm_modules(model))
    names = _names(style)
    keys = []
    for key in model.state_dict():
        module, _, leaf = key.rpartition(".")
        if module in wn and leaf == "weight":
            keys += [f"{module}.{names[0]}", f"{module}.{names[1]}"]
        elif ".parametrizations.weight.original" in key:
            module = key.split(".parametrizations.")[0]
            idx = int(key[-1])
            keys.append(f"{module}.{names[idx]}")
        else:
            keys.append(key)
    return keys


def rename_weight_norm(sd: Mapping[str, Tensor], style: WeightNorm) -> dict[str, Tensor]:
    """Rename weight-norm pairs to ``style`` (OLD: weight_g/v, NEW: parametrizations)."""
    dst = _names(style)
    src = NEW if dst is OLD else OLD
    out: dict[str, Tensor] = {}
    for key, value in sd.items():
        for s, d in zip(src, dst, strict=True):
            if key.endswith("." + s):
                key = key[: -len(s)] + d
                break
        out[key] = value
    return out


def _describe(keys: list[str], limit: int = 6) -> str:
    shown = ", ".join(keys[:limit])
    return shown + (f", ... ({len(keys)} in all)" if len(keys) > limit else "")


def load_community_state_dict(model: nn.Module, sd: Mapping[str, Tensor], what: str = "file") -> None:
    """Strictly load a community-layout state dict into ``model``.

    Inference models (no parametrizations) get folded weights; training models built with
    ``weight_norm=True`` get g/v as ``original0``/``original1``.

    Raises:
        ModelFormatError: naming the missing and unexpected keys (community naming), or the
            first tensors whose shapes differ.
    """
    parametrized = any(".parametrizations." in k for k in model.state_dict())
    if parametrized:
        ours = rename_weight_norm(sd, WeightNorm.NEW)
    else:
        ours = fold_state_dict(sd, weight_norm_modules(model))
    expected = set(model.state_dict())
    missing = sorted(expected - set(ours))
    unexpected = sorted(set(ours) - expected)
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"missing keys: {_describe(missing)}")
        if unexpected:
            parts.append(f"unexpected keys: {_describe(unexpected)}")
        raise ModelFormatError(f"{what} does not fit the RVC network ({'; '.join(parts)})")
    own = model.state_dict()
    wrong = [
        f"{k} {tuple(v.shape)} != {tuple(own[k].shape)}" for k, v in ours.items() if v.shape != own[k].shape
    ]
    if wrong:
        raise ModelFormatError(f"{what} does not fit the RVC network (shape mismatch: {_describe(wrong, 3)})")
    bad = [k for k, v in sd.items() if v.is_floating_point() and not bool(torch.isfinite(v).all())]
    if bad:
        raise ModelFormatError(f"{what} is damaged: non-finite values (NaN/inf) in {_describe(bad, 3)}")
    if any(t.is_meta for t in model.parameters()):
        load_assigned(model, ours)  # built by build_on_meta: take the tensors, no second copy
    else:
        model.load_state_dict(ours, strict=True)


def community_state_dict(
    model: nn.Module, style: WeightNorm = WeightNorm.OLD, dtype: torch.dtype = torch.float16
) -> dict[str, Tensor]:
    """A model's weights in the community layout (voice-file ``weight``), without ``enc_q``.

    Folded layers are written as ``g = ||w||`` (norm over dims but 0) and ``v = w``; parametrized
    layers as their stored g/v.
    """
    wn = set(weight_norm_modules(model))
    out: dict[str, Tensor] = {}
    names = _names(style)
    for key, value in rename_weight_norm(model.state_dict(), style).items():
        if key.startswith("enc_q."):
            continue
        module, _, leaf = key.rpartition(".")
        if module in wn and leaf == "weight":
            dims = tuple(range(1, value.ndim))
            g = value.float().pow(2).sum(dim=dims, keepdim=True).sqrt()
            out[f"{module}.{names[0]}"] = g.to(dtype)
            out[f"{module}.{names[1]}"] = value.detach().to(dtype).clone()
        else:
            out[key] = value.detach().to(dtype).clone()
    return out
