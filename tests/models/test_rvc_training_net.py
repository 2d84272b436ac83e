"""The training side of the synthesizer: trainable weight norm, and the round trip trained model ->
community voice file -> ``load_voice`` (the training forward is tested in tests/training)."""

from __future__ import annotations

from pathlib import Path

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
