"""The RVC decoder's windowed pass (long inputs, bounded memory) gives the one-pass samples."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from models.rvc.config import KNOWN_VARIANTS, variant
from models.rvc.net import Generator


def _small(version: str, rate: int) -> Generator:
    """A community variant's upsampling structure with few channels (fast on CPU)."""
    cfg = dataclasses.replace(
        variant(version, rate, f0=True, n_speakers=1),
        inter_channels=16,
        hidden_channels=16,
        filter_channels=32,
        upsample_initial_channel=64,
        gin_channels=8,
    )
    torch.manual_seed(0)
    return Generator(cfg).eval()


def _inputs(dec: Generator, frames: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(1, dec.conv_pre.in_channels, frames, generator=gen)
    g = torch.randn(1, dec.cond.in_channels, 1, generator=gen)
    f0 = 120 + 180 * torch.rand(1, frames, generator=gen)
    f0[:, frames // 3 : frames // 3 + 17] = 0  # an unvoiced stretch across a window edge
    return x, g, f0


@pytest.mark.parametrize(("version", "rate"), KNOWN_VARIANTS)
def test_windowed_decoding_equals_one_pass(version: str, rate: int) -> None:
    dec = _small(version, rate)
    ctx = dec.context_frames()
    frames = 7 * ctx + 13  # several windows and a ragged end
    x, g, f0 = _inputs(dec, frames)
    with torch.inference_mode():
        dec.window_frames = 0
        whole = dec(x, g, f0)
        dec.window_frames = 2 * ctx
        windowed = dec(x, g, f0)
    assert windowed.shape == whole.shape == (1, 1, frames * dec.upp)
    assert (windowed - whole).abs().max().item() <= 1e-5 * max(whole.abs().max().item(), 1e-3)


@pytest.mark.parametrize(("version", "rate"), KNOWN_VARIANTS)
def test_context_covers_the_receptive_field(version: str, rate: int) -> None:
    """A change at one frame moves no output sample more than ``context_frames`` frames away."""
    dec = _small(version, rate)
    ctx = dec.context_frames()
    frames = 4 * ctx
    x, g, f0 = _inputs(dec, frames)
    k = frames // 2
    bumped = x.clone()
    bumped[:, :, k] += 3.0
    with torch.inference_mode():
        dec.window_frames = 0
        diff = (dec(bumped, g, f0) - dec(x, g, f0)).abs()[0, 0]
    changed = torch.nonzero(diff > 1e-6).flatten()
    assert changed.numel() > 0
    reach = max(k * dec.upp - int(changed.min()), int(changed.max()) - (k + 1) * dec.upp) / dec.upp
    assert reach < ctx
