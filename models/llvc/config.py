"""Typed LLVC hyper-parameters, read from the experiment ``config.json`` that comes with a checkpoint.

The reference builds ``Net(**config["model_params"])``; here the same keys fill frozen dataclasses.
Only ``model_params`` (and ``data.sr``) matter for inference: the training sections of the file
(``optim``, ``aux_mel``, ...) are ignored, but an unknown key inside ``model_params`` is rejected,
because it would silently change the network in the reference.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from models.errors import ModelFormatError

_COMBINE = (None, "add", "multiply")


@dataclass(frozen=True)
class ConvNetConfig:
    """The optional cached conv pre-net (``convnet_pre``): gated causal 1-D convs on raw audio."""

    convnet_prenet: bool = True
    """Build the pre-net at all; the published model does."""
    out_channels: tuple[int, ...] = (1,) * 12
    kernel_sizes: tuple[int, ...] = (3,) * 12
    dilations: tuple[int, ...] = (1,) * 12
    dropout: float = 0.5
    """Training only (inactive in eval)."""
    combine_residuals: str | None = None
    """How block outputs combine with the running signal: None replaces it (published model)."""
    skip_connection: str | None = "add"
    """How the pre-net output combines with the audio: ``x + convnet(x)`` for the published model."""
    use_residual_blocks: bool = True
    """Gated residual blocks (tanh * sigmoid); False selects conv + BatchNorm + LeakyReLU blocks."""

    def __post_init__(self) -> None:
        n = len(self.kernel_sizes)
        if not (len(self.dilations) == n == len(self.out_channels)):
            raise ModelFormatError(
                "LLVC config: convnet_config kernel_sizes, dilations and out_channels must have "
                f"the same length, got {len(self.kernel_sizes)}, {len(self.dilations)}, "
                f"{len(self.out_channels)}."
            )
        if self.convnet_prenet and (n == 0 or self.out_channels[-1] != 1):
            raise ModelFormatError(
                "LLVC config: the pre-net needs at least one layer and must end in 1 channel."
            )
        if any(k < 1 for k in self.kernel_sizes) or any(d < 1 for d in self.dilations):
            raise ModelFormatError("LLVC config: convnet kernel sizes and dilations must be positive.")
        if self.combine_residuals not in _COMBINE or self.skip_connection not in _COMBINE:
            raise ModelFormatError(
                "LLVC config: combine_residuals / skip_connection must be null, 'add' or 'multiply'."
            )

    @property
    def buf_lengths(self) -> tuple[int, ...]:
        """Context samples each layer keeps between calls: ``(k - 1) * d``."""
        return tuple((k - 1) * d for k, d in zip(self.kernel_sizes, self.dilations, strict=True))


@dataclass(frozen=True)
class LLVCConfig:
    """Constructor arguments of the reference ``model.Net`` (defaults: ``experiments/llvc/config.json``)."""

    label_len: int = 1
    """Ignored by the reference (it hard-codes 1); kept so published configs load."""
    L: int = 16
    """Encoder frame hop in samples (stride of ``in_conv``)."""
    enc_dim: int = 512
    num_enc_layers: int = 8
    dec_dim: int = 256
    num_dec_layers: int = 1
    dec_buf_len: int = 13
    """Decoder context frames kept from earlier chunks."""
    dec_chunk_size: int = 13
    """Decoder frames per chunk: one streaming chunk is ``dec_chunk_size * L`` samples."""
    out_buf_len: int = 4
    use_pos_enc: bool = True
    decoder_dropout: float = 0.1
    """Training only."""
    skip_connection: bool = True
    proj: bool = True
    lookahead: bool = True
    """``in_conv`` kernel 3L with L samples of padding on each side (one frame of lookahead)."""
    convnet_config: ConvNetConfig = field(default_factory=ConvNetConfig)
    sample_rate: int = 16000
    """From ``data.sr``; the published model runs at 16 kHz."""

    nhead: int = 8
    """Fixed by the reference (not a config key)."""
    pos_enc_max_len: int = 200
    """Rows of the sinusoid buffer ``pe`` (fixed by the reference)."""

    def __post_init__(self) -> None:
        positive = ("L", "enc_dim", "num_enc_layers", "dec_dim", "num_dec_layers", "dec_chunk_size")
        for name in positive:
            if getattr(self, name) < 1:
                raise ModelFormatError(f"LLVC config: {name} must be positive, got {getattr(self, name)}.")
        if self.dec_buf_len < 0 or self.out_buf_len < 0:
            raise ModelFormatError("LLVC config: dec_buf_len and out_buf_len must not be negative.")
        if self.dec_dim % self.nhead:
            raise ModelFormatError(
                f"LLVC config: dec_dim {self.dec_dim} is not divisible by {self.nhead} heads."
            )
        if self.proj and self.enc_dim != 2 * self.dec_dim:
            # The grouped 1x1 projections (groups=dec_dim) map enc_dim <-> dec_dim; the reference
            # only ever uses enc_dim == 2 * dec_dim and the fast path relies on it.
            raise ModelFormatError(
                f"LLVC config: with proj, enc_dim ({self.enc_dim}) must be 2 * dec_dim ({self.dec_dim})."
            )
        if not self.proj and self.enc_dim != self.dec_dim:
            raise ModelFormatError("LLVC config: without proj, enc_dim must equal dec_dim.")
        if self.use_pos_enc and self.dec_buf_len + self.dec_chunk_size > self.pos_enc_max_len:
            raise ModelFormatError(
                "LLVC config: dec_buf_len + dec_chunk_size exceeds the 200 positions of pe."
            )
        if self.sample_rate <= 0:
            raise ModelFormatError("LLVC config: data.sr must be positive.")

    @property
    def chunk_len(self) -> int:
        """Samples per streaming chunk at chunk factor 1 (208 for the published model)."""
        return self.dec_chunk_size * self.L

    @property
    def enc_buf_len(self) -> int:
        """Frames of encoder context: ``(k - 1) * (2**layers - 1)`` with k = 3 (510 published)."""
        return 2 * (2**self.num_enc_layers - 1)

    @classmethod
    def from_dict(cls, config: Mapping[str, Any]) -> LLVCConfig:
        """Build from a parsed ``config.json`` (needs ``model_params``; ``data.sr`` optional)."""
        params = config.get("model_params")
        if not isinstance(params, Mapping):
            raise ModelFormatError("LLVC config.json has no 'model_params' section.")
        known = {f.name for f in fields(cls)} - {"convnet_config", "sample_rate", "nhead", "pos_enc_max_len"}
        unknown = sorted(set(params) - known - {"convnet_config"})
        if unknown:
            raise ModelFormatError(f"LLVC config.json: unknown model_params {', '.join(unknown)}.")
        kwargs: dict[str, Any] = {k: params[k] for k in known if k in params}
        conv = params.get("convnet_config")
        if conv is None:
            kwargs["convnet_config"] = ConvNetConfig(convnet_prenet=False)
        else:
            kwargs["convnet_config"] = _convnet_from_dict(conv)
        data = config.get("data")
        if isinstance(data, Mapping) and "sr" in data:
            kwargs["sample_rate"] = int(data["sr"])
        try:
            return cls(**kwargs)
        except TypeError as exc:  # wrong value types surface here
            raise ModelFormatError(f"LLVC config.json: {exc}.") from exc


def _convnet_from_dict(conv: Any) -> ConvNetConfig:
    if not isinstance(conv, Mapping):
        raise ModelFormatError("LLVC config.json: model_params.convnet_config must be an object.")
    known = {f.name for f in fields(ConvNetConfig)}
    unknown = sorted(set(conv) - known)
    if unknown:
        raise ModelFormatError(f"LLVC config.json: unknown convnet_config keys {', '.join(unknown)}.")
    kwargs: dict[str, Any] = dict(conv)
    for key in ("out_channels", "kernel_sizes", "dilations"):
        if key in kwargs:
            kwargs[key] = tuple(int(v) for v in kwargs[key])
    return ConvNetConfig(**kwargs)


DEFAULT_CONFIG = LLVCConfig()
"""The published ``experiments/llvc/config.json`` (used when a checkpoint comes without one)."""


def load_config(path: str | Path | None) -> LLVCConfig:
    """Read ``config.json``; ``None`` gives the published default."""
    if path is None:
        return DEFAULT_CONFIG
    try:
        with open(path, encoding="utf-8") as f:
            raw = json.load(f)
    except FileNotFoundError as exc:
        raise ModelFormatError(f"LLVC config file not found: {path}.") from exc
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelFormatError(f"LLVC config {path} is not readable JSON ({exc}).") from exc
    if not isinstance(raw, Mapping):
        raise ModelFormatError(f"LLVC config {path} must hold a JSON object.")
    return LLVCConfig.from_dict(raw)


def sibling_config(checkpoint: str | Path) -> Path | None:
    """The ``config.json`` next to a checkpoint, if there is one (for the app's file pickers).

    ``load_voice`` itself never guesses: without a config it uses the published default.
    """
    candidate = Path(checkpoint).with_name("config.json")
    return candidate if candidate.is_file() else None
