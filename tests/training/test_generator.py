"""The training forward (``training.generator.TrainingGenerator`` on the shared synthesizer with
``enc_q``): shapes, masks and gradients (moved from the synthesizer's own training forward)."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from models.rvc import RvcConfig, SynthesizerTrn
from models.rvc.testing import tiny_config
from training.generator import TrainingGenerator

TINY = tiny_config()


def _batch(cfg: RvcConfig, frames: int = 20) -> dict[str, torch.Tensor | None]:
    g = torch.Generator().manual_seed(0)
    return {
        "phone": torch.randn(2, frames, cfg.content_dim, generator=g),
        "phone_lengths": torch.tensor([frames, frames - 4]),
        "pitch": torch.randint(1, 256, (2, frames), generator=g) if cfg.f0 else None,
        "pitchf": 100 + 100 * torch.rand(2, frames, generator=g) if cfg.f0 else None,
        "spec": torch.randn(2, cfg.spec_channels, frames, generator=g),
        "spec_lengths": torch.tensor([frames, frames - 4]),
        "sid": torch.tensor([0, 2]),
    }


@pytest.mark.parametrize("f0", [True, False])
def test_training_forward_shapes_and_gradients(f0: bool) -> None:
    cfg = replace(TINY, f0=f0)
    net = SynthesizerTrn(cfg, with_posterior=True, weight_norm=True)
    segment = 8
    gen = TrainingGenerator(net, segment, cfg.hop).train()
    assert any(".parametrizations.weight.original0" in k for k in net.state_dict())
    b = _batch(cfg)
    torch.manual_seed(1)
    out = gen(**b)
    assert out.wave.shape == (2, 1, segment * cfg.hop)
    lengths = b["spec_lengths"]
    assert lengths is not None and out.ids.shape == (2,) and bool((out.ids + segment <= lengths).all())
    assert out.z_mask.shape == (2, 1, 20)
    assert out.z_p.shape == out.m_p.shape == out.logs_p.shape == out.logs_q.shape == (2, 16, 20)
    assert float(out.z_mask[1, 0, 16:].abs().sum()) == 0.0  # the shorter item's padding is masked
    (out.wave.pow(2).mean() + out.z_p.pow(2).mean()).backward()
    g0 = net.dec.ups[0].parametrizations.weight.original0.grad
    assert g0 is not None and g0.abs().sum() > 0
    assert net.enc_q is not None and net.enc_q.pre.weight.grad is not None
    assert net.emb_g.weight.grad is not None
