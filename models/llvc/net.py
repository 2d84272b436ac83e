"""The LLVC network (KoeAI ``model.Net``) with exactly the reference checkpoint layout.

Shapes follow the reference: audio ``[B, 1, N]``, encoder features ``[B, enc_dim, T]`` with
``T = N / L`` frames. Every sub-module keeps the reference's attribute names so that a reference
``state_dict`` (147 tensors for the published model, including the sinusoid buffer
``mask_gen.decoder.pos_enc.pe``) loads with ``strict=True``.

Two ways to run it, both as in the reference:

* whole signal: ``net(x)`` pads ``x`` to a multiple of ``L`` plus ``L`` samples of lookahead on
  each side and starts every buffer at zero; output length equals input length;
* one streaming call: ``net.forward_chunk(window, buffers)`` on a window of
  ``2L + dec_chunk_size * L * k`` samples (``2L`` of front context) with explicit buffers in and
  out. :mod:`models.llvc.streaming` builds the reference procedure and the fast realtime path on it.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from typing import NamedTuple, cast

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from models.llvc.config import ConvNetConfig, LLVCConfig

LN_EPS = 1e-5


class Buffers(NamedTuple):
    """Streaming state of one reference call, batch ``B``.

    ``enc [B, enc_dim, enc_buf_len]``, ``dec [B, num_dec_layers + 1, dec_buf_len, dec_dim]``,
    ``out [B, enc_dim, out_buf_len]``, ``convnet [B, C, sum(convnet buf lengths)]`` (``[B, 1, 0]``
    without a pre-net).
    """

    enc: Tensor
    dec: Tensor
    out: Tensor
    convnet: Tensor


def sinusoid_table(positions: int, dim: int) -> Tensor:
    """The speechbrain sinusoid table ``[1, positions, dim]`` (float32), as the reference registers it."""
    pe = torch.zeros(positions, dim, dtype=torch.float32)
    pos = torch.arange(0, positions).unsqueeze(1).float()
    w = torch.exp(torch.arange(0, dim, 2).float() * -(math.log(10000.0) / dim))
    pe[:, 0::2] = torch.sin(pos * w)
    pe[:, 1::2] = torch.cos(pos * w)
    return pe.unsqueeze(0)


class ChannelLayerNorm(nn.LayerNorm):
    """LayerNorm over the channel axis of ``[B, C, T]``."""

    def forward(self, x: Tensor) -> Tensor:
        return super().forward(x.transpose(1, 2)).transpose(1, 2)


class GatedResidualBlock(nn.Module):
    """``x[..., crop:] + tanh(filter(x)) * sigmoid(gate(x))`` (channels zero-padded to match)."""

    def __init__(self, c_in: int, c_out: int, kernel: int, dilation: int) -> None:
        super().__init__()
        self.filter = nn.Conv1d(c_in, c_out, kernel, dilation=dilation)
        self.gate = nn.Conv1d(c_in, c_out, kernel, dilation=dilation)
        self.crop = dilation * (kernel - 1)
        self.c_out = c_out

    def forward(self, x: Tensor) -> Tensor:
        res = torch.tanh(self.filter(x)) * torch.sigmoid(self.gate(x))
        x = F.pad(x, (0, 0, 0, self.c_out - x.shape[1]))
        return x[..., self.crop :] + res


class ConvBNBlock(nn.Module):
    """Causal conv + BatchNorm + LeakyReLU (``use_residual_blocks: false``)."""

    def __init__(self, c_in: int, c_out: int, kernel: int, dilation: int) -> None:
        super().__init__()
        self.conv = nn.Sequential(
            nn.Conv1d(c_in, c_out, kernel, dilation=dilation),
            nn.BatchNorm1d(c_out),
            nn.Identity(),
            nn.LeakyReLU(),
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.conv(x)


class CachedConvNet(nn.Module):
    """The pre-net: causal convs that keep ``(k-1)*d`` samples of context per layer in one buffer."""

    def __init__(self, cfg: ConvNetConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.buf_lengths = cfg.buf_lengths
        self.buf_starts = [sum(self.buf_lengths[:i]) for i in range(len(self.buf_lengths))]
        self.ctx_height = max(cfg.out_channels)
        block = GatedResidualBlock if cfg.use_residual_blocks else ConvBNBlock
        c_in = [1, *cfg.out_channels[:-1]]
        self.down_convs = nn.ModuleList(
            block(ci, co, k, d)
            for ci, co, k, d in zip(c_in, cfg.out_channels, cfg.kernel_sizes, cfg.dilations, strict=True)
        )

    def init_ctx(self, batch: int) -> Tensor:
        return torch.zeros(batch, self.ctx_height, sum(self.buf_lengths))

    def forward(self, x: Tensor, ctx: Tensor) -> tuple[Tensor, Tensor]:
        """``x [B, 1, T]``, ``ctx [B, C, sum(buf)]`` (updated in place) -> ``([B, 1, T], ctx)``."""
        for i, block in enumerate(self.down_convs):
            s, n = self.buf_starts[i], self.buf_lengths[i]
            c = x.shape[1]
            conv_in = torch.cat((ctx[:, :c, s : s + n], x), dim=-1)
            if n:
                ctx[:, :c, s : s + n] = conv_in[..., -n:]
            y = block(conv_in)
            if self.cfg.combine_residuals == "add":
                x = x + y
            elif self.cfg.combine_residuals == "multiply":
                x = x * y
            else:
                x = y
        return x, ctx


class DepthwiseSeparableConv(nn.Module):
    """Dilated depthwise conv (k=3) -> LN -> ReLU -> 1x1 conv -> LN -> ReLU, on ``[B, C, T]``."""

    def __init__(self, channels: int, dilation: int) -> None:
        super().__init__()
        self.layers = nn.Sequential(
            nn.Conv1d(channels, channels, 3, groups=channels, dilation=dilation),
            ChannelLayerNorm(channels),
            nn.ReLU(),
            nn.Conv1d(channels, channels, 1),
            ChannelLayerNorm(channels),
            nn.ReLU(),
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.layers(x)


class DilatedCausalConvEncoder(nn.Module):
    """Residual stack of dilated causal convs (dilation ``2**i``); context in one buffer."""

    def __init__(self, channels: int, num_layers: int) -> None:
        super().__init__()
        self.buf_lengths = [2 * 2**i for i in range(num_layers)]
        self.buf_starts = [sum(self.buf_lengths[:i]) for i in range(num_layers)]
        self.dcc_layers = nn.Sequential(
            OrderedDict((f"dcc_{i}", DepthwiseSeparableConv(channels, 2**i)) for i in range(num_layers))
        )

    def forward(self, x: Tensor, buf: Tensor) -> tuple[Tensor, Tensor]:
        """``x [B, C, T]``, ``buf [B, C, enc_buf_len]`` (updated in place) -> ``([B, C, T], buf)``."""
        for i, layer in enumerate(self.dcc_layers):
            s, n = self.buf_starts[i], self.buf_lengths[i]
            dcc_in = torch.cat((buf[..., s : s + n], x), dim=-1)
            buf[..., s : s + n] = dcc_in[..., -n:]
            x = x + layer(dcc_in)
        return x, buf


class PositionalEncoding(nn.Module):
    """Holds the persistent sinusoid buffer ``pe [1, max_len, dim]`` (speechbrain layout)."""

    def __init__(self, dim: int, max_len: int) -> None:
        super().__init__()
        self.register_buffer("pe", sinusoid_table(max_len, dim), persistent=True)

    def forward(self, x: Tensor) -> Tensor:
        """``x [B, T, C]`` -> ``pe[:, :T]``."""
        return self.get_buffer("pe")[:, : x.shape[1]]


def decoder_layer_forward(layer: nn.TransformerDecoderLayer, tgt: Tensor, mem: Tensor, chunk: int) -> Tensor:
    """One post-norm decoder layer on windows: queries are the last ``chunk`` of ``tgt [W, S, C]``.

    Self-attention sees the whole window (no mask inside the chunk), cross-attention all of
    ``mem [W, S, C]``. Returns ``[W, chunk, C]``.
    """
    q = tgt[:, -chunk:, :]
    a = layer.self_attn(q, tgt, tgt, need_weights=False)[0]
    q = layer.norm1(q + a)
    a = layer.multihead_attn(q, mem, mem, need_weights=False)[0]
    q = layer.norm2(q + a)
    ff = layer.linear2(F.relu(layer.linear1(q)))
    return layer.norm3(q + ff)


class CausalTransformerDecoder(nn.Module):
    """Chunked transformer decoder: each chunk of frames attends to itself plus ``ctx_len`` earlier."""

    def __init__(self, cfg: LLVCConfig) -> None:
        super().__init__()
        d = cfg.dec_dim
        self.ctx_len, self.chunk, self.use_pos_enc = cfg.dec_buf_len, cfg.dec_chunk_size, cfg.use_pos_enc
        self.pos_enc = PositionalEncoding(d, cfg.pos_enc_max_len)
        self.tf_dec_layers = nn.ModuleList(
            nn.TransformerDecoderLayer(d, cfg.nhead, 2 * d, cfg.decoder_dropout, batch_first=True)
            for _ in range(cfg.num_dec_layers)
        )

    def _windows(self, x: Tensor) -> Tensor:
        """``[B, ctx + n*chunk, C]`` -> overlapping windows ``[B*n, ctx + chunk, C]``."""
        w = x.unfold(1, self.ctx_len + self.chunk, self.chunk)  # [B, n, C, S]
        return w.permute(0, 1, 3, 2).reshape(-1, w.shape[3], w.shape[2])

    def forward(self, tgt: Tensor, mem: Tensor, buf: Tensor) -> tuple[Tensor, Tensor]:
        """``tgt, mem [B, C, T]``, ``buf [B, layers+1, ctx, C]`` (in place) -> ``([B, C, T], buf)``."""
        T = tgt.shape[-1]
        mod = (-T) % self.chunk
        tgt = F.pad(tgt, (0, mod)).transpose(1, 2)
        mem = F.pad(mem, (0, mod)).transpose(1, 2)
        B, Tp, C = tgt.shape
        mem = torch.cat((buf[:, 0], mem), dim=1)
        buf[:, 0] = mem[:, mem.shape[1] - self.ctx_len :]
        mem_w = self._windows(mem)
        if self.use_pos_enc:
            mem_w = mem_w + self.pos_enc(mem_w)
        for i, layer in enumerate(self.tf_dec_layers):
            tgt = torch.cat((buf[:, i + 1], tgt), dim=1)
            buf[:, i + 1] = tgt[:, tgt.shape[1] - self.ctx_len :]
            tgt_w = self._windows(tgt)
            if self.use_pos_enc and i == 0:
                tgt_w = tgt_w + self.pos_enc(tgt_w)
            layer = cast(nn.TransformerDecoderLayer, layer)
            tgt = decoder_layer_forward(layer, tgt_w, mem_w, self.chunk).reshape(B, Tp, C)
        return tgt.transpose(1, 2)[..., :T], buf


def _grouped_1x1(c_in: int, c_out: int, groups: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv1d(c_in, c_out, 1, groups=groups), nn.ReLU())


class MaskNet(nn.Module):
    """Encoder + label integration + projections + decoder -> mask ``[B, enc_dim, T]``."""

    def __init__(self, cfg: LLVCConfig) -> None:
        super().__init__()
        self.skip_connection, self.proj = cfg.skip_connection, cfg.proj
        self.encoder = DilatedCausalConvEncoder(cfg.enc_dim, cfg.num_enc_layers)
        if cfg.proj:
            self.proj_e2d_e = _grouped_1x1(cfg.enc_dim, cfg.dec_dim, cfg.dec_dim)
            self.proj_e2d_l = _grouped_1x1(cfg.enc_dim, cfg.dec_dim, cfg.dec_dim)
            self.proj_d2e = _grouped_1x1(cfg.dec_dim, cfg.enc_dim, cfg.dec_dim)
        self.decoder = CausalTransformerDecoder(cfg)

    def forward(
        self, x: Tensor, label: Tensor, enc_buf: Tensor, dec_buf: Tensor
    ) -> tuple[Tensor, Tensor, Tensor]:
        """``x [B, enc_dim, T]``, ``label [B, enc_dim]`` -> ``(mask [B, enc_dim, T], enc_buf, dec_buf)``."""
        e, enc_buf = self.encoder(x, enc_buf)
        lab = label.unsqueeze(2) * e
        if self.proj:
            m, dec_buf = self.decoder(self.proj_e2d_l(lab), self.proj_e2d_e(e), dec_buf)
            m = self.proj_d2e(m)
        else:
            m, dec_buf = self.decoder(lab, e, dec_buf)
        if self.skip_connection:
            m = lab + m
        return m, enc_buf, dec_buf


class LLVCNet(nn.Module):
    """The LLVC generator (reference ``model.Net``); ``forward(x [B, 1, N]) -> [B, 1, N]``."""

    def __init__(self, cfg: LLVCConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.L, self.dec_chunk_size, self.lookahead = cfg.L, cfg.dec_chunk_size, cfg.lookahead
        if cfg.convnet_config.convnet_prenet:
            self.convnet_pre = CachedConvNet(cfg.convnet_config)
        kernel = 3 * cfg.L if cfg.lookahead else cfg.L
        self.in_conv = nn.Sequential(nn.Conv1d(1, cfg.enc_dim, kernel, stride=cfg.L, bias=False), nn.ReLU())
        self.label_embedding = nn.Sequential(
            nn.Linear(1, 512),
            nn.LayerNorm(512),
            nn.ReLU(),
            nn.Linear(512, cfg.enc_dim),
            nn.LayerNorm(cfg.enc_dim),
            nn.ReLU(),
        )
        self.mask_gen = MaskNet(cfg)
        k = (cfg.out_buf_len + 1) * cfg.L
        self.out_conv = nn.Sequential(
            nn.ConvTranspose1d(cfg.enc_dim, 1, k, stride=cfg.L, padding=cfg.out_buf_len * cfg.L, bias=False),
            nn.Tanh(),
        )

    @property
    def has_prenet(self) -> bool:
        return hasattr(self, "convnet_pre")

    def init_buffers(self, batch: int = 1) -> Buffers:
        """Zeroed streaming buffers (on the parameters' device)."""
        c = self.cfg
        dev = next(self.parameters()).device
        convnet = self.convnet_pre.init_ctx(batch) if self.has_prenet else torch.zeros(batch, 1, 0)
        return Buffers(
            enc=torch.zeros(batch, c.enc_dim, c.enc_buf_len, device=dev),
            dec=torch.zeros(batch, c.num_dec_layers + 1, c.dec_buf_len, c.dec_dim, device=dev),
            out=torch.zeros(batch, c.enc_dim, c.out_buf_len, device=dev),
            convnet=convnet.to(dev),
        )

    def label(self, batch: int) -> Tensor:
        """The label embedding ``[B, enc_dim]`` of the all-zero label the reference always uses."""
        dev = next(self.parameters()).device
        out: Tensor = self.label_embedding(torch.zeros(batch, 1, device=dev))
        return out

    def prenet(self, x: Tensor, ctx: Tensor) -> tuple[Tensor, Tensor]:
        """Apply the pre-net with its skip rule: ``x [B, 1, N]`` -> ``(x', ctx)``."""
        if not self.has_prenet:
            return x, ctx
        y, ctx = self.convnet_pre(x, ctx)
        skip = self.cfg.convnet_config.skip_connection
        if skip == "add":
            return x + y, ctx
        if skip == "multiply":
            return x * y, ctx
        return y, ctx

    def core(self, x: Tensor, buffers: Buffers) -> tuple[Tensor, Buffers]:
        """Everything after the pre-net: ``x [B, 1, N']`` (front context included) -> ``[B, 1, L*T]``."""
        enc_buf, dec_buf, out_buf = buffers.enc, buffers.dec, buffers.out
        feats = self.in_conv(x)
        m, enc_buf, dec_buf = self.mask_gen(feats, self.label(x.shape[0]), enc_buf, dec_buf)
        y = torch.cat((out_buf, feats * m), dim=-1)
        n = self.cfg.out_buf_len
        out_buf = y[..., y.shape[-1] - n :] if n else y[..., :0]
        return self.out_conv(y), Buffers(enc_buf, dec_buf, out_buf, buffers.convnet)

    def forward(self, x: Tensor) -> Tensor:
        """Whole-signal conversion: ``x [B, 1, N]`` -> ``[B, 1, N]`` with zeroed buffers."""
        n = x.shape[-1]
        mod = (-n) % self.L
        front = self.L if self.lookahead else 0
        x = F.pad(x, (front, mod + front))
        buffers = self.init_buffers(x.shape[0])
        x, _ = self.prenet(x, buffers.convnet)
        y, _ = self.core(x, buffers)
        return y[..., :n]

    def forward_chunk(self, window: Tensor, buffers: Buffers) -> tuple[Tensor, Buffers]:
        """One reference streaming call (``pad=False``): ``[B, 1, 2L + k*chunk]`` -> ``[B, 1, k*chunk]``.

        The buffers are updated in place and returned, as in the reference.
        """
        x, ctx = self.prenet(window, buffers.convnet)
        return self.core(x, buffers._replace(convnet=ctx))
