"""The training side of the synthesizer: forward with ``enc_q``, trainable weight norm, and the
round trip trained model -> community voice file -> ``load_voice``."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from models.rvc import ZERO_NOISE, RvcConfig, SynthesizerTrn, load_voice
from models.rvc.net import fold_weight_norm
from models.rvc.testing import tiny_config, voice_container
from models.rvc.weights import community_state_dict

TINY = tiny_config()


def _batch(cfg: RvcConfig, frames: int = 20) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return {
        "phone": torch.randn(2, frames, cfg.content_dim, generator=g),
        "phone_lengths": torch.tensor([frames, frames - 4]),
        "pitch": torch.randint(1, 256, (2, frames), generator=g),
        "pitchf": 100 + 100 * torch.rand(2, frames, generator=g),
        "y": torch.randn(2, cfg.spec_channels, frames, generator=g),
        "y_lengths": torch.tensor([frames, frames - 4]),
        "ds": torch.tensor([0, 2]),
    }


@pytest.mark.parametrize("f0", [True, False])
def test_training_forward_shapes_and_gradients(f0: bool) -> None:
    cfg = RvcConfig(**{**TINY.__dict__, "f0": f0})
    net = SynthesizerTrn(cfg, with_posterior=True, weight_norm=True).train()
    assert any(".parametrizations.weight.original0" in k for k in net.state_dict())
    b = _batch(cfg)
    o, ids, x_mask, y_mask, (z, z_p, m_p, logs_p, m_q, logs_q) = net(
        **b, generator=torch.Generator().manual_seed(1)
    )
    assert o.shape == (2, 1, cfg.segment_size * cfg.hop)
    assert ids.shape == (2,) and bool((ids + cfg.segment_size <= b["y_lengths"]).all())
    assert x_mask.shape == y_mask.shape == (2, 1, 20)
    assert z.shape == z_p.shape == m_p.shape == logs_p.shape == m_q.shape == logs_q.shape == (2, 16, 20)
    assert float(y_mask[1, 0, 16:].abs().sum()) == 0.0
    (o.pow(2).mean() + z_p.pow(2).mean()).backward()
    g0 = net.dec.ups[0].parametrizations.weight.original0.grad
    assert g0 is not None and g0.abs().sum() > 0
    assert net.enc_q is not None and net.enc_q.pre.weight.grad is not None
    assert net.emb_g.weight.grad is not None


def test_trained_model_exports_to_a_voice_file_that_sounds_the_same(tmp_path: Path) -> None:
    torch.manual_seed(3)
    net = SynthesizerTrn(TINY, with_posterior=True, weight_norm=True).eval()
    path = tmp_path / "exported.pth"
    torch.save(voice_container(TINY, community_state_dict(net), info="10epoch"), path)
    voice = load_voice(path)
    assert voice.file.info == "10epoch" and voice.n_speakers == 3
    b = _batch(TINY, 12)
    args = {k: b[k] for k in ("phone", "phone_lengths", "pitch", "pitchf")}
    with torch.inference_mode():
        ours = voice.synthesizer.infer(**args, sid=torch.tensor([2, 1]), noise=ZERO_NOISE)[0]
        ref = net.infer(**args, sid=torch.tensor([2, 1]), noise=ZERO_NOISE)[0]
    torch.testing.assert_close(ours, ref, atol=2e-3, rtol=0)  # fp16 storage of the voice file
    fold_weight_norm(net)
    assert not any("parametrizations" in k for k in net.state_dict())
