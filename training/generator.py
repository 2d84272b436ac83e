"""The RVC generator in training mode: prior encoder, posterior encoder ``enc_q``, flow and a
randomly sliced decoder pass (VITS training), wrapped as one module so DDP sees one forward.

The network itself is :mod:`models.rvc.net` (shared with inference); this module only composes its
parts the way the reference ``SynthesizerTrn*.forward`` does, plus optional gradient checkpointing.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint

from models.rvc.net import SynthesizerTrn
from training.config import Variant


def build_generator(var: Variant, f0: bool) -> SynthesizerTrn:
    """A fresh synthesizer with ``enc_q`` for a variant (random init)."""
    return SynthesizerTrn(replace(var.model, f0=f0), with_posterior=True, weight_norm=True)


NSF_NOISE = 1.0
"""Scale of the NSF source noise during training (the reference trains with it)."""


@dataclass
class GenOut:
    """Training outputs: ``wave`` ``[B, 1, S*hop]`` for the slices starting at ``ids`` ``[B]`` (frames);
    ``z_p``, ``m_p``, ``logs_p``, ``logs_q`` ``[B, C, T]`` and ``z_mask`` ``[B, 1, T]`` for the KL."""

    wave: torch.Tensor
    ids: torch.Tensor
    z_p: torch.Tensor
    m_p: torch.Tensor
    logs_p: torch.Tensor
    logs_q: torch.Tensor
    z_mask: torch.Tensor


def rand_slice_starts(
    lengths: torch.Tensor, size: int, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Random start frames ``[B]`` so that ``[start, start+size)`` lies in each valid length."""
    high = (lengths - size + 1).clamp(min=1).float()
    r = torch.rand(lengths.shape[0], generator=generator, device="cpu").to(lengths.device)
    return (r * high).long()


def slice_frames(x: torch.Tensor, starts: torch.Tensor, size: int) -> torch.Tensor:
    """``x`` ``[B, C, T]`` or ``[B, T]`` -> the windows ``[..., start:start+size]`` (zero past the end)."""
    pad = size
    xp = torch.nn.functional.pad(x, (0, pad))
    idx = starts.view(-1, *([1] * (x.dim() - 1))) + torch.arange(size, device=x.device)
    idx = idx.expand(*x.shape[:-1], size)
    return torch.gather(xp, -1, idx)


class TrainingGenerator(nn.Module):
    """``forward(batch tensors) -> GenOut``; ``net`` is the shared synthesizer (with ``enc_q``)."""

    def __init__(
        self, net: SynthesizerTrn, segment_frames: int, hop: int, grad_checkpoint: bool = False
    ) -> None:
        super().__init__()
        self.net = net
        self.segment_frames = segment_frames
        self.hop = hop
        self.grad_checkpoint = grad_checkpoint

    def _maybe_ckpt(self, fn, *args, **kwargs):  # type: ignore[no-untyped-def]
        if self.grad_checkpoint and self.training:
            return checkpoint(fn, *args, use_reentrant=False, **kwargs)
        return fn(*args, **kwargs)

    def forward(
        self,
        phone: torch.Tensor,
        phone_lengths: torch.Tensor,
        pitch: torch.Tensor | None,
        pitchf: torch.Tensor | None,
        spec: torch.Tensor,
        spec_lengths: torch.Tensor,
        sid: torch.Tensor,
    ) -> GenOut:
        net = self.net
        if net.enc_q is None:
            raise RuntimeError("training needs the synthesizer's posterior encoder (with_posterior=True)")
        g = net.emb_g(sid).unsqueeze(-1)
        m_p, logs_p, _ = self._maybe_ckpt(net.enc_p, phone, pitch if net.f0 else None, phone_lengths)
        z, _, logs_q, z_mask = self._maybe_ckpt(net.enc_q, spec, spec_lengths, g)
        z_p = self._maybe_ckpt(net.flow, z, z_mask, g)
        ids = rand_slice_starts(spec_lengths, self.segment_frames)
        z_slice = slice_frames(z, ids, self.segment_frames)
        f0_slice = slice_frames(pitchf, ids, self.segment_frames) if pitchf is not None else None
        wave = self._maybe_ckpt(net.dec, z_slice, g, f0_slice, NSF_NOISE)
        return GenOut(wave, ids, z_p, m_p, logs_p, logs_q, z_mask)
