"""The RVC synthesizer (VITS-style): text encoder, coupling flow, NSF-HiFiGAN decoder.

Module and parameter names reproduce the community state-dict layout exactly (``enc_p``,
``flow.flows.N``, ``dec``, ``emb_g`` and, for training, ``enc_q``), so a community file maps onto
:class:`SynthesizerTrn` key for key. Weight norm is an inference-time no-op that the loader folds
once (``models.rvc.weights``); construct with ``weight_norm=True`` to keep it as a trainable
parametrization (training).

Shapes: B batch, T feature frames (100 per second), C content channels (256 v1 / 768 v2),
N = T * hop output samples.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from models.rvc.config import RvcConfig

LRELU_SLOPE = 0.1
FLOW_CONTEXT = 24
"""Frames of left context the realtime call keeps before ``skip_head`` for the flow (reference)."""


@dataclass(frozen=True)
class NoiseConfig:
    """The random terms of inference. ``ZERO_NOISE`` makes the output deterministic (goldens)."""

    prior_scale: float = 0.66666
    """z_p = m_p + exp(logs_p) * randn * prior_scale."""
    nsf_noise: float = 1.0
    """Scale of the NSF additive noise (0.003 voiced, 0.1/3 unvoiced, times this)."""


DEFAULT_NOISE = NoiseConfig()
ZERO_NOISE = NoiseConfig(prior_scale=0.0, nsf_noise=0.0)


def _tag_weight_norm(module: nn.Module) -> nn.Module:
    """Mark a layer that community files store with weight norm (``weight_g``/``weight_v``)."""
    module.voxshift_weight_norm = True  # type: ignore[assignment]
    return module


def weight_norm_modules(model: nn.Module) -> list[str]:
    """Names of the layers that carry weight norm in the community layout."""
    return [name for name, m in model.named_modules() if getattr(m, "voxshift_weight_norm", False)]


def apply_weight_norm(model: nn.Module) -> None:
    """Turn the tagged layers into trainable ``parametrizations.weight.original0/1`` (training)."""
    for name in weight_norm_modules(model):
        nn.utils.parametrizations.weight_norm(model.get_submodule(name), name="weight", dim=0)


def fold_weight_norm(model: nn.Module) -> None:
    """Replace weight-norm parametrizations by their effective weight (once, before inference)."""
    for name in weight_norm_modules(model):
        module = model.get_submodule(name)
        if nn.utils.parametrize.is_parametrized(module, "weight"):
            nn.utils.parametrize.remove_parametrizations(module, "weight", leave_parametrized=True)


def sequence_mask(lengths: Tensor, max_length: int) -> Tensor:
    """``[B]`` lengths -> ``[B, max_length]`` bool mask."""
    return torch.arange(max_length, device=lengths.device) < lengths.unsqueeze(1)


# ------------------------------------------------------------------------------------------
# Text (prior) encoder


class ChannelLayerNorm(nn.Module):
    """LayerNorm over the channel axis of ``[B, C, T]`` (parameters ``gamma`` / ``beta``)."""

    def __init__(self, channels: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.eps = eps
        self.gamma = nn.Parameter(torch.ones(channels))
        self.beta = nn.Parameter(torch.zeros(channels))

    def forward(self, x: Tensor) -> Tensor:
        x = F.layer_norm(x.transpose(1, -1), (x.shape[1],), self.gamma, self.beta, self.eps)
        return x.transpose(1, -1)


class RelativeSelfAttention(nn.Module):
    """Multi-head self-attention with a shared relative-position window of ±``window`` frames.

    The relative terms are computed on the band of ``2 * window + 1`` offsets only (gather /
    scatter) instead of the reference's padded ``2T - 1`` matrices: the same sums, less work.
    """

    def __init__(self, channels: int, n_heads: int, window: int) -> None:
        super().__init__()
        self.n_heads = n_heads
        self.k_channels = channels // n_heads
        self.window = window
        self.conv_q = nn.Conv1d(channels, channels, 1)
        self.conv_k = nn.Conv1d(channels, channels, 1)
        self.conv_v = nn.Conv1d(channels, channels, 1)
        self.conv_o = nn.Conv1d(channels, channels, 1)
        std = self.k_channels**-0.5
        self.emb_rel_k = nn.Parameter(torch.randn(1, 2 * window + 1, self.k_channels) * std)
        self.emb_rel_v = nn.Parameter(torch.randn(1, 2 * window + 1, self.k_channels) * std)

    def _band(self, length: int, device: torch.device) -> tuple[Tensor, Tensor]:
        """For query i and offset r: key index i + r - window (clamped) and its validity."""
        i = torch.arange(length, device=device).unsqueeze(1)
        j = i + torch.arange(-self.window, self.window + 1, device=device).unsqueeze(0)
        valid = (j >= 0) & (j < length)
        return j.clamp(0, length - 1), valid

    def forward(self, x: Tensor, attn_mask: Tensor) -> Tensor:
        """``x [B, C, T]``, ``attn_mask [B, 1, T, T]`` (1 = attend) -> ``[B, C, T]``."""
        b, c, t = x.shape
        h, d = self.n_heads, self.k_channels
        q = self.conv_q(x).view(b, h, d, t).transpose(2, 3) / math.sqrt(d)  # [B,H,T,D]
        k = self.conv_k(x).view(b, h, d, t).transpose(2, 3)
        v = self.conv_v(x).view(b, h, d, t).transpose(2, 3)
        scores = torch.matmul(q, k.transpose(-2, -1))  # [B,H,T,T]
        idx, valid = self._band(t, x.device)
        rel_logits = torch.matmul(q, self.emb_rel_k.unsqueeze(0).transpose(-2, -1))  # [B,H,T,2W+1]
        rel_logits = rel_logits * valid.to(rel_logits.dtype)
        scores = scores + torch.zeros_like(scores).scatter_add_(-1, idx.expand(b, h, t, -1), rel_logits)
        scores = scores.masked_fill(attn_mask == 0, -1e4)
        p = torch.softmax(scores, dim=-1)
        out = torch.matmul(p, v)
        rel_weights = p.gather(-1, idx.expand(b, h, t, -1)) * valid.to(p.dtype)  # [B,H,T,2W+1]
        out = out + torch.matmul(rel_weights, self.emb_rel_v.unsqueeze(0))
        return self.conv_o(out.transpose(2, 3).reshape(b, c, t))


class FeedForward(nn.Module):
    """Two "same"-padded convolutions with ReLU, applied to masked input."""

    def __init__(self, channels: int, filter_channels: int, kernel_size: int) -> None:
        super().__init__()
        self.pad = ((kernel_size - 1) // 2, kernel_size // 2)
        self.conv_1 = nn.Conv1d(channels, filter_channels, kernel_size)
        self.conv_2 = nn.Conv1d(filter_channels, channels, kernel_size)

    def forward(self, x: Tensor, x_mask: Tensor) -> Tensor:
        x = torch.relu(self.conv_1(F.pad(x * x_mask, self.pad)))
        return self.conv_2(F.pad(x * x_mask, self.pad)) * x_mask


class AttentionEncoder(nn.Module):
    """Post-LN transformer over ``[B, C, T]`` with relative attention and conv FFNs."""

    def __init__(self, c: RvcConfig) -> None:
        super().__init__()
        ch = c.hidden_channels
        self.attn_layers = nn.ModuleList(
            RelativeSelfAttention(ch, c.n_heads, c.window_size) for _ in range(c.n_layers)
        )
        self.norm_layers_1 = nn.ModuleList(ChannelLayerNorm(ch) for _ in range(c.n_layers))
        self.ffn_layers = nn.ModuleList(
            FeedForward(ch, c.filter_channels, c.kernel_size) for _ in range(c.n_layers)
        )
        self.norm_layers_2 = nn.ModuleList(ChannelLayerNorm(ch) for _ in range(c.n_layers))
        self.drop = nn.Dropout(c.p_dropout)

    def forward(self, x: Tensor, x_mask: Tensor) -> Tensor:
        attn_mask = x_mask.unsqueeze(2) * x_mask.unsqueeze(-1)
        x = x * x_mask
        for attn, norm1, ffn, norm2 in zip(
            self.attn_layers, self.norm_layers_1, self.ffn_layers, self.norm_layers_2, strict=True
        ):
            x = norm1(x + self.drop(attn(x, attn_mask)))
            x = norm2(x + self.drop(ffn(x, x_mask)))
        return x * x_mask


class TextEncoder(nn.Module):
    """Content features (+ coarse pitch) -> prior mean and log-std ``[B, inter, T]``."""

    def __init__(self, c: RvcConfig) -> None:
        super().__init__()
        self.hidden_channels = c.hidden_channels
        self.out_channels = c.inter_channels
        self.emb_phone = nn.Linear(c.content_dim, c.hidden_channels)
        self.emb_pitch = nn.Embedding(256, c.hidden_channels) if c.f0 else None
        self.encoder = AttentionEncoder(c)
        self.proj = nn.Conv1d(c.hidden_channels, c.inter_channels * 2, 1)

    def forward(
        self, phone: Tensor, pitch: Tensor | None, lengths: Tensor, skip_head: int | None = None
    ) -> tuple[Tensor, Tensor, Tensor]:
        """``phone [B, T, C]``, ``pitch [B, T]`` int (1..255) -> ``(m_p, logs_p, x_mask)``.

        With ``skip_head`` the encoder still attends over all frames, but the outputs start at
        frame ``skip_head``: ``[B, inter, T - skip_head]``.
        """
        x = self.emb_phone(phone)
        if self.emb_pitch is not None and pitch is not None:
            x = x + self.emb_pitch(pitch)
        x = F.leaky_relu(x * math.sqrt(self.hidden_channels), LRELU_SLOPE).transpose(1, -1)
        x_mask = sequence_mask(lengths, x.shape[2]).unsqueeze(1).to(x.dtype)
        x = self.encoder(x * x_mask, x_mask)
        if skip_head:
            x, x_mask = x[:, :, skip_head:], x_mask[:, :, skip_head:]
        stats = self.proj(x) * x_mask
        m, logs = torch.split(stats, self.out_channels, dim=1)
        return m, logs, x_mask


# ------------------------------------------------------------------------------------------
# Flow and posterior encoder


class WaveNet(nn.Module):
    """Non-causal gated WaveNet stack conditioned on the speaker embedding ``g``."""

    def __init__(self, hidden: int, kernel_size: int, n_layers: int, gin_channels: int) -> None:
        super().__init__()
        self.hidden = hidden
        self.n_layers = n_layers
        self.cond_layer = _tag_weight_norm(nn.Conv1d(gin_channels, 2 * hidden * n_layers, 1))
        self.in_layers = nn.ModuleList(
            _tag_weight_norm(nn.Conv1d(hidden, 2 * hidden, kernel_size, padding=(kernel_size - 1) // 2))
            for _ in range(n_layers)
        )
        self.res_skip_layers = nn.ModuleList(
            _tag_weight_norm(nn.Conv1d(hidden, 2 * hidden if i < n_layers - 1 else hidden, 1))
            for i in range(n_layers)
        )

    def forward(self, x: Tensor, x_mask: Tensor, g: Tensor) -> Tensor:
        """``x [B, H, T]``, ``g [B, gin, 1]`` -> ``[B, H, T]``."""
        out = torch.zeros_like(x)
        g_all = self.cond_layer(g)
        h = self.hidden
        for i, (layer_in, res_skip) in enumerate(zip(self.in_layers, self.res_skip_layers, strict=True)):
            a = layer_in(x) + g_all[:, i * 2 * h : (i + 1) * 2 * h]
            acts = torch.tanh(a[:, :h]) * torch.sigmoid(a[:, h:])
            rs = res_skip(acts)
            if i < self.n_layers - 1:
                x = (x + rs[:, :h]) * x_mask
                out = out + rs[:, h:]
            else:
                out = out + rs
        return out * x_mask


class CouplingLayer(nn.Module):
    """Mean-only residual affine coupling: shifts the second half by a function of the first."""

    def __init__(self, c: RvcConfig) -> None:
        super().__init__()
        self.half_channels = c.inter_channels // 2
        self.pre = nn.Conv1d(self.half_channels, c.hidden_channels, 1)
        self.enc = WaveNet(c.hidden_channels, c.flow_kernel_size, c.flow_wn_layers, c.gin_channels)
        self.post = nn.Conv1d(c.hidden_channels, self.half_channels, 1)

    def forward(self, x: Tensor, x_mask: Tensor, g: Tensor, reverse: bool = False) -> Tensor:
        x0, x1 = torch.split(x, [self.half_channels, self.half_channels], dim=1)
        m = self.post(self.enc(self.pre(x0) * x_mask, x_mask, g)) * x_mask
        x1 = (x1 - m) * x_mask if reverse else m + x1 * x_mask
        return torch.cat([x0, x1], dim=1)


class Flip(nn.Module):
    """Reverse the channel order (no parameters; keeps the community module indices)."""

    def forward(self, x: Tensor, x_mask: Tensor, g: Tensor, reverse: bool = False) -> Tensor:
        return torch.flip(x, [1])


class ResidualCouplingFlow(nn.Module):
    """``flows`` = [coupling, flip] x ``flow_layers``; run backwards at inference."""

    def __init__(self, c: RvcConfig) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for _ in range(c.flow_layers):
            layers += [CouplingLayer(c), Flip()]
        self.flows = nn.ModuleList(layers)

    def forward(self, x: Tensor, x_mask: Tensor, g: Tensor, reverse: bool = False) -> Tensor:
        for flow in reversed(self.flows) if reverse else self.flows:
            x = flow(x, x_mask, g, reverse=reverse)
        return x


class PosteriorEncoder(nn.Module):
    """Training only: linear spectrogram ``[B, spec, T]`` -> ``(z, m_q, logs_q, mask)``."""

    def __init__(self, c: RvcConfig) -> None:
        super().__init__()
        self.out_channels = c.inter_channels
        self.pre = nn.Conv1d(c.spec_channels, c.hidden_channels, 1)
        self.enc = WaveNet(c.hidden_channels, 5, 16, c.gin_channels)
        self.proj = nn.Conv1d(c.hidden_channels, c.inter_channels * 2, 1)

    def forward(
        self, y: Tensor, y_lengths: Tensor, g: Tensor, generator: torch.Generator | None = None
    ) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        y_mask = sequence_mask(y_lengths, y.shape[2]).unsqueeze(1).to(y.dtype)
        stats = self.proj(self.enc(self.pre(y) * y_mask, y_mask, g)) * y_mask
        m, logs = torch.split(stats, self.out_channels, dim=1)
        z = (m + _randn_like(m, generator) * torch.exp(logs)) * y_mask
        return z, m, logs, y_mask


def _randn_like(x: Tensor, generator: torch.Generator | None) -> Tensor:
    if generator is None:
        return torch.randn_like(x)
    return torch.randn(x.shape, generator=generator, dtype=torch.float32).to(x)


# ------------------------------------------------------------------------------------------
# Decoder


def _padding(kernel: int, dilation: int) -> int:
    return (kernel * dilation - dilation) // 2


def conv(layer: nn.Module, x: Tensor) -> Tensor:
    """``layer(x)`` for ``x [B, C, T]``, or the same 1-D convolution on ``x [B, C, 1, T]`` (see
    :func:`as_rows`) as a 2-D one over a single row, with the layer's weight viewed as
    ``[out, in, 1, k]`` (no copy; weight norm and autograd unchanged).

    On CPU, oneDNN runs convolutions on channels-last (NHWC) activations 1.3-2x faster than on
    NCW ones, which it converts for every call (measured on the decoder's layers, 2 threads).
    """
    if x.dim() == 3:
        return layer(x)
    if not isinstance(layer, nn.Conv1d | nn.ConvTranspose1d) or isinstance(layer.padding, str):
        raise TypeError(f"conv() takes a Conv1d/ConvTranspose1d with numeric padding, got {layer}")
    w = layer.weight.unsqueeze(2)
    stride, pad, dil = layer.stride[0], int(layer.padding[0]), layer.dilation[0]
    if isinstance(layer, nn.ConvTranspose1d):
        out_pad = layer.output_padding[0]
        return F.conv_transpose2d(
            x, w, layer.bias, (1, stride), (0, pad), (0, out_pad), layer.groups, (1, dil)
        )
    return F.conv2d(x, w, layer.bias, (1, stride), (0, pad), (1, dil), layer.groups)


def as_rows(x: Tensor) -> Tensor:
    """``[B, C, T]`` -> ``[B, C, 1, T]`` channels-last on CPU (the fast layout for :func:`conv`);
    elsewhere ``x`` unchanged (cuDNN's NCW path is already fast)."""
    if x.device.type != "cpu":
        return x
    return x.unsqueeze(2).contiguous(memory_format=torch.channels_last)


def from_rows(x: Tensor) -> Tensor:
    """Inverse of :func:`as_rows`: ``[B, C, T]``, contiguous."""
    return x.squeeze(2).contiguous() if x.dim() == 4 else x


class ResBlock1(nn.Module):
    """Three (dilated conv, conv) pairs with residual connections."""

    def __init__(self, ch: int, k: int, dilations: tuple[int, ...]) -> None:
        super().__init__()
        self.convs1 = nn.ModuleList(
            _tag_weight_norm(nn.Conv1d(ch, ch, k, dilation=d, padding=_padding(k, d))) for d in dilations
        )
        self.convs2 = nn.ModuleList(
            _tag_weight_norm(nn.Conv1d(ch, ch, k, padding=_padding(k, 1))) for _ in dilations
        )

    def forward(self, x: Tensor) -> Tensor:
        """``[B, C, T]`` or ``[B, C, 1, T]`` (:func:`as_rows`) -> the same shape."""
        for c1, c2 in zip(self.convs1, self.convs2, strict=True):
            x = x + conv(c2, F.leaky_relu(conv(c1, F.leaky_relu(x, LRELU_SLOPE)), LRELU_SLOPE))
        return x


class ResBlock2(nn.Module):
    """Dilated convs with residual connections (HiFi-GAN v3 block)."""

    def __init__(self, ch: int, k: int, dilations: tuple[int, ...]) -> None:
        super().__init__()
        self.convs = nn.ModuleList(
            _tag_weight_norm(nn.Conv1d(ch, ch, k, dilation=d, padding=_padding(k, d))) for d in dilations
        )

    def forward(self, x: Tensor) -> Tensor:
        """``[B, C, T]`` or ``[B, C, 1, T]`` (:func:`as_rows`) -> the same shape."""
        for c in self.convs:
            x = x + conv(c, F.leaky_relu(x, LRELU_SLOPE))
        return x


class SineSource(nn.Module):
    """NSF harmonic source (fundamental only): f0 ``[B, T]`` Hz -> ``[B, T*upp, 1]`` excitation.

    The phase is accumulated per frame in closed form (wrapped frame increments, cumsum, fmod)
    like the reference 20240604 branch, so long inputs do not lose float32 precision.
    """

    def __init__(self, sample_rate: int, sine_amp: float = 0.1, noise_std: float = 0.003) -> None:
        super().__init__()
        self.sample_rate = sample_rate
        self.sine_amp = sine_amp
        self.noise_std = noise_std
        self.l_linear = nn.Linear(1, 1)

    def sine(self, f0: Tensor, upp: int, noise: float, generator: torch.Generator | None) -> Tensor:
        """Voiced-masked sine plus NSF noise, float32 ``[B, T*upp, 1]``."""
        f0 = f0.float().unsqueeze(-1)  # [B,T,1]
        steps = torch.arange(1, upp + 1, dtype=f0.dtype, device=f0.device)
        rad = f0 / self.sample_rate * steps  # [B,T,upp] phase (cycles) within each frame
        frame_inc = torch.fmod(rad[:, :-1, -1:] + 0.5, 1.0) - 0.5
        rad = rad + F.pad(frame_inc.cumsum(dim=1).fmod(1.0), (0, 0, 1, 0))
        sine = torch.sin(2 * math.pi * rad.reshape(f0.shape[0], -1, 1)) * self.sine_amp
        uv = (f0 > 0).to(f0.dtype).repeat_interleave(upp, dim=1)
        if noise:
            amp = uv * self.noise_std + (1 - uv) * self.sine_amp / 3
            sine = sine * uv + amp * noise * _randn_like(sine, generator)
        else:
            sine = sine * uv
        return sine

    def forward(
        self, f0: Tensor, upp: int, noise: float = 0.0, generator: torch.Generator | None = None
    ) -> Tensor:
        """``f0 [B, T]`` -> ``har_source [B, T*upp, 1]`` in the layer's dtype."""
        sine = self.sine(f0, upp, noise, generator).to(self.l_linear.weight.dtype)
        return torch.tanh(self.l_linear(sine))


class Generator(nn.Module):
    """HiFi-GAN decoder ``z [B, inter, T]`` -> audio ``[B, 1, T*hop]``; NSF source when ``f0``."""

    def __init__(self, c: RvcConfig) -> None:
        super().__init__()
        self.upp = c.hop
        ch0 = c.upsample_initial_channel
        self.num_kernels = len(c.resblock_kernel_sizes)
        self.m_source = SineSource(c.sample_rate) if c.f0 else None
        self.noise_convs = nn.ModuleList() if c.f0 else None
        self.conv_pre = nn.Conv1d(c.inter_channels, ch0, 7, padding=3)
        self.ups = nn.ModuleList()
        self.resblocks = nn.ModuleList()
        block = ResBlock1 if c.resblock == "1" else ResBlock2
        rates = c.upsample_rates
        for i, (u, k) in enumerate(zip(rates, c.upsample_kernel_sizes, strict=True)):
            ch = ch0 >> (i + 1)
            self.ups.append(_tag_weight_norm(nn.ConvTranspose1d(ch0 >> i, ch, k, u, padding=(k - u) // 2)))
            if self.noise_convs is not None:
                s = math.prod(rates[i + 1 :])
                conv = nn.Conv1d(1, ch, 2 * s, stride=s, padding=s // 2) if s > 1 else nn.Conv1d(1, ch, 1)
                self.noise_convs.append(conv)
            for rk, rd in zip(c.resblock_kernel_sizes, c.resblock_dilation_sizes, strict=True):
                self.resblocks.append(block(ch, rk, rd))
        self.conv_post = nn.Conv1d(ch0 >> len(rates), 1, 7, padding=3, bias=False)
        self.cond = nn.Conv1d(c.gin_channels, ch0, 1)

    def forward(
        self,
        x: Tensor,
        g: Tensor,
        f0: Tensor | None = None,
        noise: float = 0.0,
        generator: torch.Generator | None = None,
    ) -> Tensor:
        """``x [B, inter, T]``, ``g [B, gin, 1]``, ``f0 [B, T]`` Hz -> ``[B, 1, T*hop]``.

        Inputs longer than ``2 * window_frames`` are decoded in windows of ``window_frames``
        with :meth:`context_frames` of real neighbours on each side, cut and joined: the same
        samples (to float rounding) as one pass, with activation memory bounded by one window
        instead of growing with the input (a 40 s segment needed ~1.5 GB in one pass).
        """
        har = None
        if self.m_source is not None:
            if f0 is None:
                raise ValueError("this f0 model needs pitchf (f0 in Hz per frame)")
            har = self.m_source(f0, self.upp, noise, generator).transpose(1, 2)  # [B,1,N]
        n = x.shape[-1]
        win = self.window_frames
        ctx = self.context_frames() if win > 0 and n > 2 * win else 0
        if ctx == 0 or win < 2 * ctx:
            return self._decode(x, g, har)
        size = win + 2 * ctx  # every window has this length: one set of conv shapes per input
        parts = []
        for a in range(0, n, win):
            b = min(a + win, n)
            lo = min(max(a - ctx, 0), n - size)
            hi = lo + size
            h = None if har is None else har[:, :, lo * self.upp : hi * self.upp]
            y = self._decode(x[:, :, lo:hi], g, h)
            parts.append(y[:, :, (a - lo) * self.upp : (b - lo) * self.upp])
        return torch.cat(parts, dim=-1)

    window_frames = 200
    """Frames per decoding window for long inputs (0 = always one pass); at least twice
    :meth:`context_frames`. 2 s: the first window of a 12 s file segment peaked ~0.4 GB lower
    than with 4 s windows (measured RSS, v2 40k, 2 threads), at no measurable cost in speed."""

    def context_frames(self) -> int:
        """Frames of context on each side beyond which a window's output no longer changes:
        the decoder's receptive half-width (conv_pre, each upsampling and its widest residual
        block, conv_post) in input frames, rounded up, plus a margin."""
        up = 1  # output samples per frame at the current stage
        half = (self.conv_pre.kernel_size[0] - 1) / 2
        for i, layer in enumerate(self.ups):
            assert isinstance(layer, nn.ConvTranspose1d)
            half += layer.kernel_size[0] / (2 * layer.stride[0]) / up + 1 / up
            up *= layer.stride[0]
            blocks = self.resblocks[i * self.num_kernels : (i + 1) * self.num_kernels]
            widest = 0.0
            for blk in blocks:
                if isinstance(blk, ResBlock1):
                    convs = [*blk.convs1, *blk.convs2]
                else:
                    assert isinstance(blk, ResBlock2)
                    convs = list(blk.convs)
                widest = max(widest, sum((c.kernel_size[0] - 1) * c.dilation[0] / 2 for c in convs))
            half += widest / up
        half += (self.conv_post.kernel_size[0] - 1) / 2 / up
        return math.ceil(half) + 8

    def _decode(self, x: Tensor, g: Tensor, har: Tensor | None) -> Tensor:
        """The conv stack on frames ``x`` with the matching excitation ``har`` [B, 1, T*hop].

        Runs on ``[B, C, 1, T]`` channels-last rows on CPU (:func:`as_rows`, :func:`conv`).
        """
        x = as_rows(x)
        if har is not None:
            har = as_rows(har)
        x = conv(self.conv_pre, x) + as_rows(self.cond(g))
        for i, up in enumerate(self.ups):
            x = conv(up, F.leaky_relu(x, LRELU_SLOPE))
            if self.noise_convs is not None and har is not None:
                x = x + conv(self.noise_convs[i], har)
            blocks = self.resblocks[i * self.num_kernels : (i + 1) * self.num_kernels]
            xs = blocks[0](x)
            for blk in blocks[1:]:
                xs = xs + blk(x)
            x = xs / self.num_kernels
        return from_rows(torch.tanh(conv(self.conv_post, F.leaky_relu(x))))


# ------------------------------------------------------------------------------------------
# Synthesizer


InferResult = tuple[Tensor, Tensor, tuple[Tensor, Tensor, Tensor, Tensor]]
"""``(audio [B, 1, N], x_mask [B, 1, T'], (z, z_p, m_p, logs_p))`` of :meth:`SynthesizerTrn.infer`."""


class SynthesizerTrn(nn.Module):
    """``SynthesizerTrnMs{256,768}NSFsid[_nono]`` with the community layout.

    Args:
        config: the variant.
        with_posterior: build ``enc_q`` (training; voice files do not contain it).
        weight_norm: keep weight norm as trainable parametrizations (training). Inference models
            are built without it and receive folded weights from the loader.
    """

    def __init__(self, config: RvcConfig, *, with_posterior: bool = False, weight_norm: bool = False) -> None:
        super().__init__()
        self.config = config
        self.f0 = config.f0
        self.hop = config.hop
        self.noise = DEFAULT_NOISE
        self.enc_p = TextEncoder(config)
        self.dec = Generator(config)
        self.flow = ResidualCouplingFlow(config)
        self.emb_g = nn.Embedding(config.n_speakers, config.gin_channels)
        self.enc_q = PosteriorEncoder(config) if with_posterior else None
        if weight_norm:
            apply_weight_norm(self)

    def _speaker(self, sid: Tensor | int | None, batch: int, device: torch.device) -> Tensor:
        """``g [B, gin, 1]`` for speaker ids (default 0); out-of-range ids raise."""
        if sid is None:
            sid = 0
        ids = torch.as_tensor(sid, dtype=torch.long, device=device).reshape(-1)
        if ids.numel() == 1 and batch > 1:
            ids = ids.expand(batch)
        n = self.emb_g.num_embeddings
        if bool(((ids < 0) | (ids >= n)).any()):
            raise ValueError(f"speaker id {ids.tolist()} out of range: this model has {n} speaker(s)")
        return self.emb_g(ids).unsqueeze(-1)

    def infer(
        self,
        phone: Tensor,
        phone_lengths: Tensor,
        pitch: Tensor | None,
        pitchf: Tensor | None,
        sid: Tensor | int | None = None,
        skip_head: int | None = None,
        return_length: int | None = None,
        *,
        noise: NoiseConfig | None = None,
        generator: torch.Generator | None = None,
    ) -> InferResult:
        """Synthesize audio from content features (the reference ``SynthesizerTrnMs*NSFsid.infer``
        argument order).

        Args:
            phone: ``[B, T, C]`` content features at 100 frames/s.
            phone_lengths: ``[B]`` int64 valid frames.
            pitch: ``[B, T]`` int64 coarse pitch 1..255; required by f0 models, None for the others.
            pitchf: ``[B, T]`` float f0 in Hz, 0 = unvoiced; required by f0 models, None for the others.
            sid: ``[B]`` (or scalar) speaker ids, default 0.
            skip_head, return_length: realtime tail synthesis: decode only frames
                ``[skip_head, skip_head + return_length)``; the flow sees up to 24 frames of
                left context, the encoder all frames (as the reference realtime path).
            noise: the random terms (default ``self.noise``; ``ZERO_NOISE`` is deterministic).
            generator: random source for the noise terms.

        Returns:
            ``(audio [B, 1, N], x_mask [B, 1, T'], (z, z_p, m_p, logs_p))`` with N = T' * hop,
            T' = T or ``return_length``; m_p/logs_p/z_p start at ``max(skip_head - 24, 0)``.

        Raises:
            ValueError: an f0 model without pitch, or pitch given to a model without f0.
        """
        if self.f0 != (pitch is not None and pitchf is not None):
            want = "needs pitch and pitchf" if self.f0 else "takes no pitch (use infer_nof0)"
            raise ValueError(f"this RVC model {want}")
        return self._infer(
            phone, phone_lengths, pitch, pitchf, sid, skip_head, return_length, noise, generator
        )

    def infer_nof0(
        self,
        phone: Tensor,
        phone_lengths: Tensor,
        sid: Tensor | int | None = None,
        skip_head: int | None = None,
        return_length: int | None = None,
        *,
        noise: NoiseConfig | None = None,
        generator: torch.Generator | None = None,
    ) -> InferResult:
        """:meth:`infer` for a model without pitch, in the reference ``*_nono.infer`` argument order."""
        if self.f0:
            raise ValueError("this RVC model needs pitch and pitchf (use infer)")
        return self._infer(phone, phone_lengths, None, None, sid, skip_head, return_length, noise, generator)

    def _infer(
        self,
        phone: Tensor,
        phone_lengths: Tensor,
        pitch: Tensor | None,
        pitchf: Tensor | None,
        sid: Tensor | int | None,
        skip_head: int | None,
        return_length: int | None,
        noise: NoiseConfig | None,
        generator: torch.Generator | None,
    ) -> InferResult:
        nz = self.noise if noise is None else noise
        phone = phone.to(self.enc_p.emb_phone.weight.dtype)
        g = self._speaker(sid, phone.shape[0], phone.device)
        if skip_head is not None and return_length is not None:
            head, length = int(skip_head), int(return_length)
            flow_head = max(head - FLOW_CONTEXT, 0)
            dec_head = head - flow_head
            m_p, logs_p, x_mask = self.enc_p(phone, pitch, phone_lengths, flow_head)
            z_p = self._prior_sample(m_p, logs_p, x_mask, nz, generator)
            z = self.flow(z_p, x_mask, g, reverse=True)
            z = z[:, :, dec_head : dec_head + length]
            x_mask = x_mask[:, :, dec_head : dec_head + length]
            if pitchf is not None:
                pitchf = pitchf[:, head : head + length]
        else:
            m_p, logs_p, x_mask = self.enc_p(phone, pitch, phone_lengths)
            z_p = self._prior_sample(m_p, logs_p, x_mask, nz, generator)
            z = self.flow(z_p, x_mask, g, reverse=True)
        audio = self.dec(z * x_mask, g, pitchf, nz.nsf_noise, generator)
        return audio, x_mask, (z, z_p, m_p, logs_p)

    @staticmethod
    def _prior_sample(
        m_p: Tensor, logs_p: Tensor, x_mask: Tensor, noise: NoiseConfig, generator: torch.Generator | None
    ) -> Tensor:
        if noise.prior_scale == 0:
            return m_p * x_mask
        return (m_p + torch.exp(logs_p) * _randn_like(m_p, generator) * noise.prior_scale) * x_mask
