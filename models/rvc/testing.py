"""Rule-weight RVC files in the community containers, for tests and benchmarks.

Weights follow ``models.testing`` rule ``crc32-uniform-v1``; for the reference variants they are
bit-identical to the manifests, and any other config gets its tensors from the same rule. Files:

* :func:`write_voice_file`: a voice file ``{"weight", "config", "info", "sr", "f0", "version"}``,
  every tensor float16, no ``enc_q``; ``style=WeightNorm.NEW`` stores weight norm with the
  ``parametrizations.weight.original0/1`` naming (same values).
* :func:`write_training_checkpoint`: a ``G_*.pth`` ``{"model", "iteration", "optimizer",
  "learning_rate"}`` with ``enc_q``, float32 (generator values equal to the voice file's).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from models.kinds import RvcVersion, WeightNorm
from models.rvc.config import RvcConfig, from_community
from models.rvc.net import SynthesizerTrn
from models.rvc.weights import community_keys, rename_weight_norm
from models.testing import rule_weights

_DTYPE_NAMES = {torch.float16: "float16", torch.float32: "float32"}


def tiny_config(version: RvcVersion = RvcVersion.V1, f0: bool = True, n_speakers: int = 3) -> RvcConfig:
    """A structurally complete but tiny synthesizer (32 kHz, hop 320) for fast tests."""
    return RvcConfig(
        version=version, f0=f0, spec_channels=33, segment_size=8, inter_channels=16, hidden_channels=16,
        filter_channels=32, n_heads=2, n_layers=2, upsample_rates=(10, 4, 2, 2, 2),
        upsample_kernel_sizes=(16, 16, 4, 4, 4), upsample_initial_channel=64, n_speakers=n_speakers,
        gin_channels=8, sample_rate=32000,
    )  # fmt: skip


def config_from_manifest(manifest: Mapping[str, Any]) -> RvcConfig:
    """The variant of a reference manifest (``variant`` like ``rvc_v2_nof0_48k``)."""
    _, version, f0, _ = str(manifest["variant"]).split("_")
    return from_community(manifest["container"]["config_value"], version, int(f0 == "f0"))


def rule_entries(
    config: RvcConfig, *, with_posterior: bool = False, dtype: torch.dtype = torch.float16
) -> list[dict[str, Any]]:
    """Manifest-style tensor entries (key, shape, dtype) of a community file of ``config``."""
    net = SynthesizerTrn(config, with_posterior=with_posterior)
    shapes = {k: tuple(v.shape) for k, v in net.state_dict().items()}
    entries = []
    for key in community_keys(net, WeightNorm.OLD):
        module, _, leaf = key.rpartition(".")
        w = shapes[f"{module}.weight"] if leaf in ("weight_g", "weight_v") else shapes[key]
        shape = (w[0],) + (1,) * (len(w) - 1) if leaf == "weight_g" else w
        entries.append({"key": key, "shape": list(shape), "dtype": _DTYPE_NAMES[dtype]})
    return entries


def rule_state_dict(
    config: RvcConfig, *, with_posterior: bool = False, dtype: torch.dtype = torch.float16
) -> dict[str, Tensor]:
    """Rule weights for ``config`` in the community layout (old weight-norm naming)."""
    return rule_weights(
        {"state_dict": {"tensors": rule_entries(config, with_posterior=with_posterior, dtype=dtype)}}
    )


def voice_container(
    config: RvcConfig, weight: Mapping[str, Tensor], info: str = "rule weights"
) -> dict[str, Any]:
    """The community voice-file dict, exactly as ``process_ckpt.py`` lays it out."""
    return {
        "weight": {k: v.half() for k, v in weight.items() if "enc_q" not in k},
        "config": config.to_community_list(),
        "info": info,
        "sr": f"{config.sample_rate // 1000}k",
        "f0": int(config.f0),
        "version": config.version.value,
    }


def _atomic_save(obj: Any, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)
    return path


def _resolve(
    config: RvcConfig | None, manifest: Mapping[str, Any] | None, weight: Mapping[str, Tensor] | None
) -> tuple[RvcConfig, Mapping[str, Tensor]]:
    if manifest is not None:
        config = config_from_manifest(manifest)
        if weight is None:
            weight = rule_weights(manifest)
    if config is None:
        raise ValueError("give a config or a manifest")
    if weight is None:
        weight = rule_state_dict(config)
    return config, weight


def write_voice_file(
    path: str | Path,
    config: RvcConfig | None = None,
    *,
    manifest: Mapping[str, Any] | None = None,
    weight: Mapping[str, Tensor] | None = None,
    style: WeightNorm = WeightNorm.OLD,
    info: str = "rule weights",
) -> Path:
    """Write a community voice file (fp16) for ``config`` or a reference ``manifest``."""
    config, weight = _resolve(config, manifest, weight)
    container = voice_container(config, weight, info)
    if style is WeightNorm.NEW:
        container["weight"] = rename_weight_norm(container["weight"], WeightNorm.NEW)
    return _atomic_save(container, Path(path))


def write_training_checkpoint(
    path: str | Path,
    config: RvcConfig | None = None,
    *,
    manifest: Mapping[str, Any] | None = None,
    iteration: int = 1000,
) -> Path:
    """Write a ``G_*.pth``-style training checkpoint (float32, with ``enc_q``)."""
    config, weight = _resolve(config, manifest, None)
    entries = rule_entries(config, with_posterior=True, dtype=torch.float32)
    enc_q = rule_weights({"state_dict": {"tensors": [e for e in entries if e["key"].startswith("enc_q.")]}})
    model = {e["key"]: weight[e["key"]].float() if e["key"] in weight else enc_q[e["key"]] for e in entries}
    optimizer: dict[str, Any] = {"state": {}, "param_groups": []}
    obj = {"model": model, "iteration": iteration, "optimizer": optimizer, "learning_rate": 1e-4}
    return _atomic_save(obj, Path(path))
