"""Open a community RVC voice (``.pth``) or training checkpoint (``G_*.pth``) safely."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from models.checkpoint import ModelFile, inspect_file, strip_ddp_prefix
from models.errors import ModelFormatError
from models.kinds import RVC_GENERATORS, ModelKind, RvcVersion
from models.memory import build_on_meta, release_memory
from models.rvc.config import RvcConfig, from_community, infer_config_from_state_dict
from models.rvc.net import SynthesizerTrn
from models.rvc.weights import load_community_state_dict


@dataclass
class RvcModel:
    """A loaded RVC synthesizer plus what a voice card shows about it."""

    synthesizer: SynthesizerTrn
    config: RvcConfig
    file: ModelFile
    device: torch.device
    dtype: torch.dtype

    @property
    def path(self) -> Path:
        return self.file.path

    @property
    def version(self) -> RvcVersion:
        return self.config.version

    @property
    def f0(self) -> bool:
        return self.config.f0

    @property
    def sample_rate(self) -> int:
        return self.config.sample_rate

    @property
    def n_speakers(self) -> int:
        return self.config.n_speakers

    @property
    def hop(self) -> int:
        """Output samples per 10 ms feature frame."""
        return self.config.hop

    @property
    def content_dim(self) -> int:
        return self.config.content_dim

    @property
    def is_training_checkpoint(self) -> bool:
        return self.file.kind is not ModelKind.RVC

    @property
    def name(self) -> str:
        return self.path.stem

    def details(self) -> dict[str, str]:
        """Short facts for the GUI card / CLI, e.g. {"version": "v2", "rate": "40 kHz", ...}."""
        out = {
            "version": self.version.value,
            "rate": f"{self.sample_rate / 1000:g} kHz",
            "f0": "yes" if self.f0 else "no",
            "speakers": str(self.n_speakers),
            "source": self.file.description,
            "stored": self.file.dtype or "?",
            "running": f"{str(self.dtype).replace('torch.', '')} on {self.device}",
        }
        if self.file.info:
            out["info"] = self.file.info
        return out


def _voice_file_parts(mf: ModelFile, obj: Mapping[str, Any]) -> tuple[RvcConfig, Mapping[str, torch.Tensor]]:
    sd = obj["weight"]
    vocoder = obj.get("vocoder")
    if vocoder not in (None, "", "HiFi-GAN", "hifigan", "HiFiGAN", "NSF-HiFiGAN"):
        raise ModelFormatError(
            f"{mf.path.name} uses the {vocoder} vocoder; Voxshift runs RVC voices with the HiFi-GAN vocoder"
        )
    n_speakers = int(sd["emb_g.weight"].shape[0])
    config = from_community(obj["config"], obj.get("version", "v1"), obj.get("f0", 1), n_speakers)
    if mf.version != config.version:
        dim = int(sd["enc_p.emb_phone.weight"].shape[1])
        raise ModelFormatError(
            f"{mf.path.name} says version {config.version.value} but its weights take {dim}-dim features"
            f" ({mf.version.value if mf.version else '?'})"
        )
    if mf.f0 != config.f0:
        raise ModelFormatError(
            f"{mf.path.name} says f0={int(config.f0)} but its weights are a {'' if mf.f0 else 'no-'}f0 model"
        )
    return config, sd


def _checkpoint_parts(mf: ModelFile, obj: Mapping[str, Any]) -> tuple[RvcConfig, Mapping[str, torch.Tensor]]:
    raw = next(obj[k] for k in ("model", "state_dict", "net_g", "weight") if isinstance(obj.get(k), Mapping))
    sd = strip_ddp_prefix(raw)
    try:
        config = infer_config_from_state_dict(sd)
    except ModelFormatError as exc:
        raise ModelFormatError(f"{mf.path.name}: {exc}") from exc
    return config, {k: v for k, v in sd.items() if not k.startswith("enc_q.")}


def _pick_device(device: str | torch.device, half: bool | None) -> tuple[torch.device, torch.dtype]:
    dev = torch.device(device)
    if half is None:
        half = dev.type == "cuda"
    return dev, torch.float16 if half else torch.float32


def load_voice(path: str | Path, device: str | torch.device = "cpu", half: bool | None = None) -> RvcModel:
    """Load an RVC voice file (or ``G_*.pth`` training checkpoint; its ``enc_q`` is dropped).

    The file is opened without running code from it, checked against the network strictly,
    weight norm is folded once, and the model is put in ``eval()`` on ``device``: float32, or
    float16 when ``half`` (default: half on CUDA only).

    Raises:
        ModelFormatError: unreadable, unsafe, wrong-kind or mismatching file (one line).
    """
    mf, obj = inspect_file(path, RVC_GENERATORS, mmap=True)
    if mf.kind is ModelKind.RVC:
        config, sd = _voice_file_parts(mf, obj)
    else:
        config, sd = _checkpoint_parts(mf, obj)
    net = build_on_meta(lambda: SynthesizerTrn(config))
    load_community_state_dict(net, sd, what=mf.path.name)
    del obj, sd
    dev, dtype = _pick_device(device, half)
    net = net.to(device=dev, dtype=dtype).eval()
    for p in net.parameters():
        p.requires_grad_(False)
    release_memory()
    return RvcModel(net, config, mf, dev, dtype)
