"""Parity of the RVC synthesizer with the reference goldens, through the user's loading path.

For every ``golden_rvc_*.npz`` in the reference fixtures: regenerate the rule weights from the
manifest (checked tensor by tensor against ``sha256_16``), write them in the community container,
load the file with ``models.rvc.load_voice`` and compare every golden array.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from models.checkpoint import detect
from models.kinds import ModelKind, RvcVersion, WeightNorm
from models.rvc import ZERO_NOISE, RvcModel, load_voice
from models.rvc.testing import config_from_manifest, rule_entries, write_training_checkpoint, write_voice_file
from models.rvc.weights import rename_weight_norm
from models.testing import check_rule_weights, load_manifest, rule_weights

REF = Path(__file__).resolve().parents[1] / "fixtures" / "reference"
VARIANTS = sorted(p.stem.removeprefix("golden_") for p in REF.glob("golden_rvc_*.npz"))


def _has_realtime(name: str) -> bool:
    with np.load(REF / f"golden_{name}.npz") as g:
        return "rt_audio" in g.files


RT_VARIANTS = [v for v in VARIANTS if _has_realtime(v)]
LATENT_TOL = 1e-4
AUDIO_TOL = 1e-5


def test_all_reference_variants_are_covered() -> None:
    assert {"rvc_v2_f0_40k", "rvc_v1_f0_40k", "rvc_v2_nof0_48k"} <= set(VARIANTS)


class Variant:
    """One reference variant: its manifest, rule weights, golden arrays and a written voice file."""

    def __init__(self, name: str, folder: Path) -> None:
        self.name = name
        self.manifest = load_manifest(REF / f"manifest_{name}.json")
        self.weights = rule_weights(self.manifest)
        check_rule_weights(self.manifest, self.weights)
        with np.load(REF / f"golden_{name}.npz") as g:
            self.golden = {k: torch.from_numpy(g[k]) for k in g.files}
        self.path = write_voice_file(folder / f"{name}.pth", manifest=self.manifest, weight=self.weights)
        self.voice = load_voice(self.path)

    def run(self, voice: RvcModel | None = None, realtime: bool = False) -> tuple[torch.Tensor, ...]:
        """``(audio, z, m_p, logs_p)`` of the golden call, noise zeroed as in the golden run."""
        g = self.golden
        voice = voice or self.voice
        extra: dict[str, Any] = {}
        if realtime:
            extra = {"skip_head": g["rt_skip_head"], "return_length": g["rt_return_length"]}
        with torch.inference_mode():
            if voice.f0:
                out = voice.synthesizer.infer(
                    g["phone"],
                    g["phone_lengths"],
                    g["pitch"],
                    g["pitchf"],
                    g["sid"],
                    noise=ZERO_NOISE,
                    **extra,
                )
            else:  # the reference's no-f0 call order: infer(phone, lengths, sid)
                out = voice.synthesizer.infer_nof0(
                    g["phone"], g["phone_lengths"], g["sid"], noise=ZERO_NOISE, **extra
                )
        audio, _, (z, _, m_p, logs_p) = out
        return audio, z, m_p, logs_p


_CACHE: dict[str, Variant] = {}


def _variant(name: str, tmp_path_factory: pytest.TempPathFactory) -> Variant:
    """Each variant is built once per test session (rule weights take seconds)."""
    if name not in _CACHE:
        _CACHE[name] = Variant(name, tmp_path_factory.mktemp(name))
    return _CACHE[name]


@pytest.fixture(scope="module", params=VARIANTS)
def variant(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Variant:
    return _variant(str(request.param), tmp_path_factory)


@pytest.fixture(scope="module", params=RT_VARIANTS)
def rt_variant(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Variant:
    return _variant(str(request.param), tmp_path_factory)


def _close(actual: torch.Tensor, golden: torch.Tensor, tol: float, what: str) -> None:
    assert tuple(actual.shape) == tuple(golden.shape), f"{what}: shape {tuple(actual.shape)}"
    err = (actual.float() - golden.float()).abs().max().item()
    assert err <= tol, f"{what}: max abs diff {err:.3g} > {tol:g}"


def test_file_is_detected_as_written(variant: Variant) -> None:
    found = detect(variant.path)
    cfg = config_from_manifest(variant.manifest)
    assert (found.kind, found.version, found.f0) == (ModelKind.RVC, cfg.version, cfg.f0)
    assert (found.sample_rate, found.n_speakers) == (cfg.sample_rate, 109)
    assert (found.weight_norm, found.dtype) == (WeightNorm.OLD, "float16")
    assert found.n_params == variant.manifest["state_dict"]["n_params"]


def test_rule_entries_match_manifest(variant: Variant) -> None:
    """Our key/shape list for a config is exactly the manifest's (so any config gets rule weights)."""
    ours = rule_entries(config_from_manifest(variant.manifest))
    theirs = variant.manifest["state_dict"]["tensors"]
    assert sorted((e["key"], tuple(e["shape"])) for e in ours) == sorted(
        (e["key"], tuple(e["shape"])) for e in theirs
    )


@pytest.mark.slow
def test_full_synthesis_matches_golden(variant: Variant) -> None:
    audio, z, m_p, logs_p = variant.run()
    g = variant.golden
    _close(m_p, g["m_p"], LATENT_TOL, "m_p")
    _close(logs_p, g["logs_p"], LATENT_TOL, "logs_p")
    _close(z, g["z"], LATENT_TOL, "z")
    _close(audio, g["audio"], AUDIO_TOL, "audio")
    if "har_source" in g:
        syn = variant.voice.synthesizer
        assert syn.dec.m_source is not None
        with torch.inference_mode():
            har = syn.dec.m_source(g["pitchf"], syn.hop)
        _close(har, g["har_source"], AUDIO_TOL, "har_source")


def test_realtime_tail_matches_golden(rt_variant: Variant) -> None:
    variant = rt_variant
    g = variant.golden
    audio, z, m_p, _ = variant.run(realtime=True)
    _close(m_p, g["rt_m_p"], LATENT_TOL, "rt_m_p")
    _close(z, g["rt_z"], LATENT_TOL, "rt_z")
    _close(audio, g["rt_audio"], AUDIO_TOL, "rt_audio")


@pytest.mark.slow
def test_new_style_weight_norm_naming(tmp_path_factory: pytest.TempPathFactory, tmp_path: Path) -> None:
    variant = _variant("rvc_v2_f0_40k", tmp_path_factory)
    path = write_voice_file(
        tmp_path / "new.pth", manifest=variant.manifest, weight=variant.weights, style=WeightNorm.NEW
    )
    assert any(
        ".parametrizations.weight.original1" in k for k in torch.load(path, weights_only=True)["weight"]
    )
    assert detect(path).weight_norm is WeightNorm.NEW
    audio, *_ = variant.run(load_voice(path), realtime=True)
    _close(audio, variant.golden["rt_audio"], AUDIO_TOL, "rt_audio (new naming)")


@pytest.mark.slow
def test_training_checkpoint_loads_without_enc_q(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
) -> None:
    variant = _variant("rvc_v1_f0_40k", tmp_path_factory)
    path = write_training_checkpoint(tmp_path / "G_2333.pth", manifest=variant.manifest, iteration=2333)
    raw = torch.load(path, weights_only=True)
    assert sum(k.startswith("enc_q.") for k in raw["model"]) == 103
    found = detect(path)
    assert (found.kind, found.version, found.f0, found.sample_rate) == (
        ModelKind.RVC_TRAINING,
        RvcVersion.V1,
        True,
        40000,
    )
    voice = load_voice(path)
    assert voice.is_training_checkpoint and voice.synthesizer.enc_q is None
    assert "training checkpoint" in voice.details()["source"]
    audio, *_ = variant.run(voice, realtime=True)
    _close(audio, variant.golden["rt_audio"], AUDIO_TOL, "rt_audio (G_*.pth)")


def test_mixed_naming_is_folded(tmp_path_factory: pytest.TempPathFactory, tmp_path: Path) -> None:
    """Half the layers old-style, half new-style: still the same network."""
    variant = _variant("rvc_v2_nof0_48k", tmp_path_factory)
    new = rename_weight_norm(variant.weights, WeightNorm.NEW)
    mixed = {k: v for k, v in variant.weights.items() if not k.startswith("dec.")}
    mixed |= {k: v for k, v in new.items() if k.startswith("dec.")}
    path = write_voice_file(tmp_path / "mixed.pth", manifest=variant.manifest, weight=mixed)
    voice = load_voice(path)
    ref = variant.voice.synthesizer.state_dict()
    for k, v in voice.synthesizer.state_dict().items():
        assert torch.equal(v, ref[k]), k
