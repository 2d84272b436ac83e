"""Export: the community voice file (what ``process_ckpt.py`` writes) and the FAISS index.

Voice file: ``{"weight": fp16 generator state dict without enc_q (weight_g/weight_v naming),
"config": the 18-entry list, "info", "sr": "40k", "f0": 0|1, "version": "v1"|"v2"}``.
Index: IVF-Flat over the training content features, named
``added_IVF{n}_Flat_nprobe_1_{name}_{version}.index`` as the community expects.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from training.config import Variant
from training.fsutil import atomic_torch_save
from training.wnorm import to_community


def voice_payload(
    state_dict: Mapping[str, torch.Tensor], var: Variant, f0: bool, info: str
) -> dict[str, Any]:
    """The community container for a synthesizer state dict (``enc_q`` dropped, fp16)."""
    weight = {
        k: v.detach().to("cpu", torch.float16)
        for k, v in to_community(state_dict).items()
        if not k.startswith("enc_q.")
    }
    model = replace(var.model, f0=f0, n_speakers=int(weight["emb_g.weight"].shape[0]))
    return {
        "weight": weight,
        "config": model.to_community_list(),
        "info": info,
        "sr": var.sr_key,
        "f0": int(f0),
        "version": model.version.value,
    }


def export_voice(
    state_dict: Mapping[str, torch.Tensor], var: Variant, f0: bool, path: Path, info: str
) -> Path:
    """Writes the voice file atomically and returns its path."""
    atomic_torch_save(voice_payload(state_dict, var, f0, info), path)
    return path


def index_name(n_ivf: int, name: str, version: str) -> str:
    return f"added_IVF{n_ivf}_Flat_nprobe_1_{name}_{version}.index"


def build_index(features: np.ndarray, out_dir: Path, name: str, version: str) -> Path:
    """Builds the retrieval index from ``features`` ``[N, C]`` (via :mod:`models.retrieval`)."""
    from models.retrieval import IndexBuildConfig, ivf_lists
    from models.retrieval import build_index as _build

    cfg = IndexBuildConfig()
    n = features.shape[0]
    n_rows = cfg.kmeans_clusters if n > cfg.kmeans_above else n
    path = out_dir / index_name(ivf_lists(n_rows), name, version)
    _build(features.astype(np.float32), path, cfg)
    return path


def gather_features(paths: Sequence[Path]) -> np.ndarray:
    """All content frames of the training slices, ``[N, C]`` float32 (the index builder shuffles)."""
    return np.concatenate([np.load(p) for p in paths], axis=0).astype(np.float32)
