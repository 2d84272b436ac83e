"""HuBERT / ContentVec encoder (fairseq ``HubertModel`` inference path, no fairseq needed).

Parameter names equal the fairseq state-dict keys (``feature_extractor.conv_layers.0.0.weight``,
``encoder.layers.3.fc1.weight``, ...) so a checkpoint loads with ``strict=True``. Two differences,
both applied by the loader (:mod:`models.content.loader`) before loading:

* ``encoder.pos_conv`` is a plain ``Conv1d``: the checkpoint's weight norm (``weight_g``,
  ``weight_v``, dim 2) is folded into one weight once, so it is not recomputed per call.
* training-only tensors (``mask_emb``, ``label_embs_concat``) are dropped.

Only the inference path RVC uses is implemented: raw audio in, no mask, no padding mask, no
dropout; ``extract(x, layer)`` stops after transformer block ``layer`` (1-based), which equals
fairseq ``extract_features(..., output_layer=layer)``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

ConvSpec = tuple[int, int, int]
"""One feature-extractor conv: (channels, kernel, stride)."""

HUBERT_BASE_CONV: tuple[ConvSpec, ...] = ((512, 10, 5),) + ((512, 3, 2),) * 4 + ((512, 2, 2),) * 2


@dataclass(frozen=True)
class HubertConfig:
    """Architecture of a HuBERT-style encoder. Defaults are HuBERT base / ContentVec."""

    conv_layers: tuple[ConvSpec, ...] = HUBERT_BASE_CONV
    extractor_mode: str = "default"
    """"default": GroupNorm after conv 0 only (base); "layer_norm": LayerNorm after every conv (large)."""
    embed_dim: int = 768
    ffn_dim: int = 3072
    heads: int = 12
    layers: int = 12
    conv_pos: int = 128
    """Kernel of the convolutional positional embedding (even: its last output frame is dropped)."""
    conv_pos_groups: int = 16
    final_dim: int = 256
    """Output size of ``final_proj`` (RVC v1 features); 0 if the checkpoint has none."""
    layer_norm_first: bool = False
    """False: post-LN blocks (base / ContentVec); True: pre-LN blocks (large)."""
    sample_rate: int = 16000

    def __post_init__(self) -> None:
        if self.extractor_mode not in ("default", "layer_norm"):
            raise ValueError(f"extractor_mode must be 'default' or 'layer_norm', got {self.extractor_mode!r}")
        if not self.conv_layers or any(min(c) < 1 for c in self.conv_layers):
            raise ValueError(
                f"conv_layers must be non-empty (channels, kernel, stride) triples: {self.conv_layers}"
            )
        if self.embed_dim % self.heads or self.embed_dim % self.conv_pos_groups:
            raise ValueError(
                f"embed_dim {self.embed_dim} must divide by heads {self.heads} and conv_pos_groups "
                f"{self.conv_pos_groups}"
            )
        if self.layers < 1:
            raise ValueError(f"layers must be >= 1, got {self.layers}")

    @property
    def hop(self) -> int:
        """Total stride of the feature extractor in samples (320: 50 frames/s at 16 kHz)."""
        hop = 1
        for _, _, stride in self.conv_layers:
            hop *= stride
        return hop

    def frames(self, n_samples: int) -> int:
        """Number of output frames for ``n_samples`` input samples (0 if too short)."""
        n = n_samples
        for _, kernel, stride in self.conv_layers:
            n = (n - kernel) // stride + 1
            if n <= 0:
                return 0
        return n


_CONV_TERM = re.compile(r"\[\s*\(\s*(\d+)\s*,\s*(\d+)\s*,\s*(\d+)\s*\)\s*\](?:\s*\*\s*(\d+))?")


def parse_conv_layers(spec: str) -> tuple[ConvSpec, ...]:
    """Parse fairseq's ``conv_feature_layers`` string without ``eval``.

    ``"[(512,10,5)] + [(512,3,2)] * 4 + [(512,2,2)] * 2"`` -> seven (channels, kernel, stride).
    """
    layers: list[ConvSpec] = []
    for term in spec.split("+"):
        m = _CONV_TERM.fullmatch(term.strip())
        if m is None:
            raise ValueError(f"cannot parse conv_feature_layers term {term.strip()!r} in {spec!r}")
        layers.extend([(int(m[1]), int(m[2]), int(m[3]))] * int(m[4] or 1))
    return tuple(layers)


class _ChannelLayerNorm(nn.Module):
    """LayerNorm over channels of a ``[B, C, T]`` tensor, in float32 (fairseq ``Fp32LayerNorm``).

    Registered inside a Sequential at index 1 so its keys read ``conv_layers.i.2.1.weight``.
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.layer_norm(
            x.transpose(1, 2).float(), (x.shape[1],), self.weight.float(), self.bias.float(), 1e-5
        )
        return y.transpose(1, 2).type_as(x)


class _Fp32GroupNorm(nn.GroupNorm):
    """GroupNorm computed in float32 (each channel normalised over the whole time axis)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = self.weight.float() if self.weight is not None else None
        b = self.bias.float() if self.bias is not None else None
        return F.group_norm(x.float(), self.num_groups, w, b, self.eps).type_as(x)


class FeatureExtractor(nn.Module):
    """Strided conv stack: ``[B, N]`` audio -> ``[B, C, T]`` features (no bias, GELU after each)."""

    def __init__(self, cfg: HubertConfig) -> None:
        super().__init__()
        layers = []
        in_ch = 1
        for i, (ch, kernel, stride) in enumerate(cfg.conv_layers):
            conv = nn.Conv1d(in_ch, ch, kernel, stride=stride, bias=False)
            if cfg.extractor_mode == "layer_norm":
                norm: nn.Module = nn.Sequential(nn.Identity(), _ChannelLayerNorm(ch))
            elif i == 0:
                norm = _Fp32GroupNorm(ch, ch, affine=True)
            else:
                norm = nn.Identity()
            layers.append(nn.Sequential(conv, nn.Identity(), norm))
            in_ch = ch
        self.conv_layers = nn.ModuleList(layers)

    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        """``wav [B, N]`` -> ``[B, C, T]``."""
        x = wav.unsqueeze(1)
        for layer in self.conv_layers:
            x = F.gelu(layer(x))
        return x


class SelfAttention(nn.Module):
    """Multi-head self-attention with separate q/k/v/out projections (fairseq naming)."""

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.q_proj = nn.Linear(dim, dim)
        self.k_proj = nn.Linear(dim, dim)
        self.v_proj = nn.Linear(dim, dim)
        self.out_proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x [B, T, C]`` -> ``[B, T, C]`` (no mask: RVC passes an all-False padding mask)."""
        b, t, c = x.shape
        h = self.heads

        def split(y: torch.Tensor) -> torch.Tensor:
            return y.view(b, t, h, c // h).transpose(1, 2)

        q, k, v = split(self.q_proj(x)), split(self.k_proj(x)), split(self.v_proj(x))
        y = F.scaled_dot_product_attention(q, k, v)
        return self.out_proj(y.transpose(1, 2).reshape(b, t, c))


class EncoderLayer(nn.Module):
    """One transformer block: post-LN (base) or pre-LN (``layer_norm_first``), exact-erf GELU."""

    def __init__(self, cfg: HubertConfig) -> None:
        super().__init__()
        self.layer_norm_first = cfg.layer_norm_first
        self.self_attn = SelfAttention(cfg.embed_dim, cfg.heads)
        self.self_attn_layer_norm = nn.LayerNorm(cfg.embed_dim)
        self.fc1 = nn.Linear(cfg.embed_dim, cfg.ffn_dim)
        self.fc2 = nn.Linear(cfg.ffn_dim, cfg.embed_dim)
        self.final_layer_norm = nn.LayerNorm(cfg.embed_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x [B, T, C]`` -> ``[B, T, C]``."""
        if self.layer_norm_first:
            x = x + self.self_attn(self.self_attn_layer_norm(x))
            return x + self.fc2(F.gelu(self.fc1(self.final_layer_norm(x))))
        x = self.self_attn_layer_norm(x + self.self_attn(x))
        return self.final_layer_norm(x + self.fc2(F.gelu(self.fc1(x))))


class TransformerEncoder(nn.Module):
    """Convolutional positional embedding + transformer blocks (fairseq ``TransformerEncoder``)."""

    def __init__(self, cfg: HubertConfig) -> None:
        super().__init__()
        self.layer_norm_first = cfg.layer_norm_first
        self.pos_conv = nn.Conv1d(
            cfg.embed_dim, cfg.embed_dim, cfg.conv_pos, padding=cfg.conv_pos // 2, groups=cfg.conv_pos_groups
        )
        self.trim = 1 if cfg.conv_pos % 2 == 0 else 0
        self.layer_norm = nn.LayerNorm(cfg.embed_dim)
        self.layers = nn.ModuleList(EncoderLayer(cfg) for _ in range(cfg.layers))

    def forward(self, x: torch.Tensor, layer: int) -> torch.Tensor:
        """``x [B, T, C]`` -> output of block ``layer`` (1-based) ``[B, T, C]``."""
        pos = self.pos_conv(x.transpose(1, 2))
        if self.trim:
            pos = pos[:, :, : -self.trim]
        x = x + F.gelu(pos).transpose(1, 2)
        if not self.layer_norm_first:
            x = self.layer_norm(x)
        for block in self.layers[:layer]:
            x = block(x)
        if self.layer_norm_first and layer == len(self.layers):
            x = self.layer_norm(x)
        return x


class Hubert(nn.Module):
    """HuBERT / ContentVec: ``[B, N]`` 16 kHz audio -> ``[B, T, C]`` content features (T ~ N/320)."""

    def __init__(self, cfg: HubertConfig) -> None:
        super().__init__()
        self.cfg = cfg
        conv_dim = cfg.conv_layers[-1][0]
        self.feature_extractor = FeatureExtractor(cfg)
        self.layer_norm = nn.LayerNorm(conv_dim)
        self.post_extract_proj = nn.Linear(conv_dim, cfg.embed_dim) if conv_dim != cfg.embed_dim else None
        self.encoder = TransformerEncoder(cfg)
        self.final_proj = nn.Linear(cfg.embed_dim, cfg.final_dim) if cfg.final_dim else None

    def conv_features(self, wav: torch.Tensor) -> torch.Tensor:
        """``wav [B, N]`` -> feature-extractor output ``[B, 512, T]``."""
        return self.feature_extractor(wav)

    def forward(self, wav: torch.Tensor, layer: int, final_proj: bool = False) -> torch.Tensor:
        """``wav [B, N]`` -> output of block ``layer`` ``[B, T, embed_dim]``, or ``[B, T, final_dim]``
        after ``final_proj``."""
        x = self.layer_norm(self.feature_extractor(wav).transpose(1, 2))
        if self.post_extract_proj is not None:
            x = self.post_extract_proj(x)
        x = self.encoder(x, layer)
        if final_proj:
            if self.final_proj is None:
                raise ValueError("this content encoder has no final_proj (it was not in the checkpoint)")
            x = self.final_proj(x)
        return x
