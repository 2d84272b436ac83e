"""The names model files and voices go by, as enums so that mypy checks every use.

* :class:`ModelKind`: what a model file holds (``models.checkpoint.detect`` finds it from keys
  and shapes).
* :class:`RvcVersion`: the RVC generation (content features and the HuBERT layer they come from).
* :class:`WeightNorm`: how a file stores weight norm.
* :class:`VoiceKind`: what a streaming voice is (library cards, the GUI's controls).

The string values are the ones files, voice cards and the command line use; convert at those
boundaries (``Kind(value)``, ``member.value``) and compare members everywhere else.
"""

from __future__ import annotations

from enum import Enum
from typing import Any

from models.errors import ModelFormatError


class ModelKind(Enum):
    """What a model file holds."""

    RVC = "rvc"
    RVC_TRAINING = "rvc_training"
    RVC_PRETRAINED = "rvc_pretrained"
    RVC_DISCRIMINATOR = "rvc_discriminator"
    HUBERT = "hubert"
    RMVPE = "rmvpe"
    LLVC = "llvc"

    @property
    def description(self) -> str:
        """The kind in words, e.g. "an RVC voice model"."""
        return _DESCRIPTIONS[self]


_DESCRIPTIONS = {
    ModelKind.RVC: "an RVC voice model",
    ModelKind.RVC_TRAINING: "an RVC training checkpoint (G_*.pth)",
    ModelKind.RVC_PRETRAINED: "an RVC pretrained generator (f0G*.pth / G*.pth)",
    ModelKind.RVC_DISCRIMINATOR: "an RVC discriminator checkpoint (D_*.pth), not a voice",
    ModelKind.HUBERT: "a HuBERT/ContentVec content encoder (hubert_base.pt)",
    ModelKind.RMVPE: "an RMVPE pitch model (rmvpe.pt)",
    ModelKind.LLVC: "an LLVC voice model",
}

RVC_GENERATORS = frozenset({ModelKind.RVC, ModelKind.RVC_TRAINING, ModelKind.RVC_PRETRAINED})
"""Kinds that hold an RVC generator (a voice file, or a checkpoint the loader also accepts)."""


class RvcVersion(Enum):
    """RVC generation: v1 takes 256-dim content features, v2 768-dim."""

    V1 = "v1"
    V2 = "v2"

    @property
    def content_dim(self) -> int:
        """Channels of the content features the synthesizer takes."""
        return _CONTENT[self][0]

    @property
    def content_layer(self) -> int:
        """HuBERT/ContentVec layer the features come from (9 for v1, 12 for v2)."""
        return _CONTENT[self][1]

    @property
    def final_proj(self) -> bool:
        """Whether the features go through HuBERT's ``final_proj`` (768 -> 256, v1 only)."""
        return _CONTENT[self][2]

    @classmethod
    def from_content_dim(cls, dim: int) -> RvcVersion:
        """The version whose content features have ``dim`` channels (ModelFormatError if none)."""
        for version, (channels, _, _) in _CONTENT.items():
            if channels == dim:
                return version
        raise ModelFormatError(
            f"RVC generator with {dim}-dim content features; expected 256 (v1) or 768 (v2)"
        )

    @classmethod
    def parse(cls, value: Any) -> RvcVersion:
        """A version as files and settings write it ("v1"/"v2"); ModelFormatError otherwise."""
        try:
            return cls(value)
        except ValueError:
            raise ModelFormatError(f"invalid RVC version {value!r}; expected 'v1' or 'v2'") from None


_CONTENT = {RvcVersion.V1: (256, 9, True), RvcVersion.V2: (768, 12, False)}


class WeightNorm(Enum):
    """How a file stores weight-normalised layers."""

    OLD = "old"
    """``<m>.weight_g`` / ``<m>.weight_v`` (torch's old ``weight_norm``)."""
    NEW = "new"
    """``<m>.parametrizations.weight.original0`` / ``original1`` (the parametrization API)."""
    NONE = "none"
    """No weight-norm pairs (folded or never used)."""


class VoiceKind(Enum):
    """What a streaming voice is."""

    VOICE = "voice"
    """Any other voice (the base class's default)."""
    PASSTHROUGH = "passthrough"
    BUILTIN = "builtin"
    RVC = "rvc"
    LLVC = "llvc"
