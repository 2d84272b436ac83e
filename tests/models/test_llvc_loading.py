"""LLVC loading: safe and strict, configs from config.json, clear errors, other model variants."""

from __future__ import annotations

import json
import pickle
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from models.errors import ModelFormatError
from models.kinds import VoiceKind
from models.llvc import (
    DEFAULT_CONFIG,
    LLVCConfig,
    LLVCNet,
    load_config,
    load_voice,
    sibling_config,
    stream_reference,
)
from models.llvc.testing import write_rule_checkpoint


@pytest.fixture(autouse=True, scope="module")
def one_thread() -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return write_rule_checkpoint(tmp_path_factory.mktemp("llvc"), check=False)


def _config_json(path: Path, **model_params: Any) -> Path:
    base = json.loads((path.parent / "config.json").read_text())
    base["model_params"].update(model_params)
    out = path.parent / f"config_{len(list(path.parent.iterdir()))}.json"
    out.write_text(json.dumps(base))
    return out


def test_published_default_equals_reference_config(checkpoint: tuple[Path, Path]) -> None:
    assert load_config(checkpoint[1]) == DEFAULT_CONFIG
    assert sibling_config(checkpoint[0]) == checkpoint[1]
    voice = load_voice(checkpoint[0])  # no config: the published default
    assert voice.config == DEFAULT_CONFIG and voice.kind is VoiceKind.LLVC
    assert voice.info().details["latency"] == "14.0 ms"


def test_config_that_does_not_fit_names_the_keys(checkpoint: tuple[Path, Path]) -> None:
    with pytest.raises(ModelFormatError, match=r"unexpected .*dcc_4"):
        load_voice(checkpoint[0], _config_json(checkpoint[0], num_enc_layers=4))
    with pytest.raises(ModelFormatError, match=r"wrong shape .*in_conv\.0\.weight"):
        load_voice(checkpoint[0], _config_json(checkpoint[0], L=8))
    with pytest.raises(ModelFormatError, match=r"missing .*tf_dec_layers\.1"):
        load_voice(checkpoint[0], _config_json(checkpoint[0], num_dec_layers=2))


def test_bad_configs_are_rejected(tmp_path: Path) -> None:
    with pytest.raises(ModelFormatError, match="unknown model_params"):
        LLVCConfig.from_dict({"model_params": {"L": 16, "n_heads": 4}})
    with pytest.raises(ModelFormatError, match="model_params"):
        LLVCConfig.from_dict({"data": {"sr": 16000}})
    with pytest.raises(ModelFormatError, match="divisible"):
        LLVCConfig(dec_dim=250, enc_dim=500)
    broken = tmp_path / "config.json"
    broken.write_text("{not json")
    with pytest.raises(ModelFormatError, match="not readable JSON"):
        load_config(broken)
    with pytest.raises(ModelFormatError, match="not found"):
        load_config(tmp_path / "missing.json")


class _Evil:
    def __reduce__(self) -> tuple[Any, ...]:
        import os

        return (os.system, ("touch /tmp/llvc_pwned_marker",))


def test_unsafe_broken_and_foreign_files_are_refused(tmp_path: Path, checkpoint: tuple[Path, Path]) -> None:
    evil = tmp_path / "evil.pth"
    torch.save({"model": _Evil()}, evil, _use_new_zipfile_serialization=True, pickle_module=pickle)
    with pytest.raises(ModelFormatError):
        load_voice(evil)
    assert not Path("/tmp/llvc_pwned_marker").exists()
    truncated = tmp_path / "truncated.pth"
    truncated.write_bytes(checkpoint[0].read_bytes()[:5000])
    with pytest.raises(ModelFormatError):
        load_voice(truncated)
    rvc = tmp_path / "rvc.pth"
    torch.save({"weight": {"emb_g.weight": torch.zeros(1, 256)}, "config": [1]}, rvc)
    with pytest.raises(ModelFormatError, match="RVC"):
        load_voice(rvc)
    empty = tmp_path / "empty.pth"
    torch.save({"model": {}}, empty)
    with pytest.raises(ModelFormatError, match="state dict"):
        load_voice(empty)


SMALL = {
    "L": 8,
    "enc_dim": 64,
    "num_enc_layers": 3,
    "dec_dim": 32,
    "num_dec_layers": 2,
    "dec_buf_len": 5,
    "dec_chunk_size": 4,
    "out_buf_len": 2,
    "convnet_config": {
        "convnet_prenet": True,
        "out_channels": [1, 1],
        "kernel_sizes": [3, 5],
        "dilations": [1, 2],
        "dropout": 0.0,
        "combine_residuals": "add",
        "skip_connection": "add",
        "use_residual_blocks": True,
    },
}


@pytest.mark.parametrize("prenet", [True, False])
def test_other_variant_streams_like_its_whole_signal(tmp_path: Path, prenet: bool) -> None:
    """A small variant (2 decoder layers, ctx != chunk, dilated pre-net) keeps the contracts."""
    params = json.loads(json.dumps(SMALL))
    params["convnet_config"]["convnet_prenet"] = prenet
    config = {"model_params": params, "data": {"sr": 8000}}
    torch.manual_seed(0)
    net = LLVCNet(LLVCConfig.from_dict(config))
    ckpt = tmp_path / "small.pth"
    torch.save({"model": net.state_dict()}, ckpt)
    voice = load_voice(ckpt, config, chunk_factor=2)
    assert (voice.sample_rate, voice.hop, voice.latency) == (8000, 64, 8)
    x = (0.05 * np.random.default_rng(1).standard_normal(64 * 30)).astype(np.float32)
    state = voice.init_state()
    y = np.concatenate([voice.step(x[i : i + 64], state)[0] for i in range(0, len(x), 64)])
    with torch.inference_mode():
        whole = voice.net(torch.from_numpy(np.concatenate([np.zeros(8, np.float32), x]))[None, None])[0, 0]
    n = len(x) - 64
    np.testing.assert_allclose(y[:n], whole.numpy()[:n], rtol=0, atol=1e-5)
    ref = stream_reference(voice, x, 2)
    assert ref.shape == (1, len(x)) and bool(torch.isfinite(ref).all())
