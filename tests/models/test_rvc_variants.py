"""Every community variant builds, loads through the user path and runs with the right lengths;
broken, mismatching and unsafe voice files fail with one clear line."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from models.checkpoint import detect
from models.errors import ModelFormatError
from models.kinds import ModelKind, RvcVersion, WeightNorm
from models.rvc import ZERO_NOISE, RvcConfig, SynthesizerTrn, from_community, load_voice, variant
from models.rvc.config import KNOWN_VARIANTS, infer_config_from_state_dict
from models.rvc.testing import tiny_config, voice_container, write_voice_file
from models.rvc.weights import community_state_dict, rename_weight_norm
from models.testing import load_manifest

# (version, rate, f0, speakers); the 40k variants are covered by the golden parity tests.
CASES = [
    (RvcVersion.V1, 32000, True, 1),
    (RvcVersion.V2, 32000, False, 109),
    (RvcVersion.V1, 48000, False, 3),
    (RvcVersion.V2, 48000, True, 4),
]


def _random_voice(path: Path, cfg: RvcConfig, style: WeightNorm = WeightNorm.OLD) -> Path:
    torch.manual_seed(0)
    return write_voice_file(path, cfg, weight=community_state_dict(SynthesizerTrn(cfg)), style=style)


def _inputs(cfg: RvcConfig, frames: int, batch: int = 1) -> dict[str, torch.Tensor | None]:
    """``infer`` inputs; pitch and pitchf are None for a model without f0."""
    g = torch.Generator().manual_seed(1)
    f0 = 120 + 80 * torch.rand(batch, frames, generator=g)
    f0[:, 3:6] = 0
    return {
        "phone": torch.randn(batch, frames, cfg.content_dim, generator=g),
        "phone_lengths": torch.full((batch,), frames, dtype=torch.long),
        "pitch": torch.randint(1, 256, (batch, frames), generator=g) if cfg.f0 else None,
        "pitchf": f0 if cfg.f0 else None,
    }


@pytest.mark.slow
@pytest.mark.parametrize(("version", "rate", "f0", "speakers"), CASES, ids=lambda c: str(c))
def test_variant_builds_loads_and_runs(
    tmp_path: Path, version: RvcVersion, rate: int, f0: bool, speakers: int
) -> None:
    cfg = variant(version, rate, f0, n_speakers=speakers)
    assert cfg.hop * 100 == rate
    style = WeightNorm.NEW if speakers == 3 else WeightNorm.OLD
    path = _random_voice(tmp_path / "voice.pth", cfg, style)
    found = detect(path)
    assert (found.kind, found.version, found.f0, found.sample_rate, found.n_speakers) == (
        ModelKind.RVC, version, f0, rate, speakers)  # fmt: skip
    assert found.weight_norm is style
    voice = load_voice(path)
    assert (voice.version, voice.f0, voice.sample_rate, voice.n_speakers) == (version, f0, rate, speakers)
    x = _inputs(cfg, 12)
    syn = voice.synthesizer
    with torch.inference_mode():
        audio, mask, (z, z_p, m_p, logs_p) = syn.infer(
            **x, sid=torch.tensor([speakers - 1]), noise=ZERO_NOISE
        )
        assert audio.shape == (1, 1, 12 * cfg.hop)
        assert mask.shape == (1, 1, 12) and z.shape == z_p.shape == m_p.shape == logs_p.shape == (1, 192, 12)
        assert torch.isfinite(audio).all() and audio.abs().max() <= 1
        x = _inputs(cfg, 30)  # the realtime call: decode 2 frames after 28 (flow keeps 24 of context)
        tail, mask, (z, _, m_p, _) = syn.infer(**x, sid=torch.tensor([0]), skip_head=28, return_length=2)
        assert tail.shape == (1, 1, 2 * cfg.hop) and z.shape == (1, 192, 2) and m_p.shape == (1, 192, 26)
        if not f0:  # the reference's no-f0 positional order: (phone, lengths, sid, skip_head, return_length)
            sid, skip, length = torch.tensor([0]), torch.tensor([28]), torch.tensor([2])
            ref = syn.infer_nof0(x["phone"], x["phone_lengths"], sid, skip, length, noise=ZERO_NOISE)[0]
            ours = syn.infer(
                x["phone"],
                x["phone_lengths"],
                None,
                None,
                sid=0,
                skip_head=28,
                return_length=2,
                noise=ZERO_NOISE,
            )[0]
            assert ref.shape == (1, 1, 2 * cfg.hop) and torch.equal(ref, ours)
        # each kind has its own call: pitch for an f0 model, none for the others (never reinterpreted)
        with pytest.raises(ValueError, match="needs pitch" if f0 else "takes no pitch"):
            pitch = None if f0 else torch.ones(1, 30, dtype=torch.long)
            syn.infer(x["phone"], x["phone_lengths"], pitch, pitch)
        if f0:
            with pytest.raises(ValueError, match="needs pitch"):
                syn.infer_nof0(x["phone"], x["phone_lengths"])


def test_multi_speaker_and_batch(tmp_path: Path) -> None:
    cfg = tiny_config(RvcVersion.V2, True, n_speakers=4)
    voice = load_voice(_random_voice(tmp_path / "multi.pth", cfg))
    x = _inputs(cfg, 10, batch=2)
    x["phone_lengths"] = torch.tensor([10, 7])
    syn = voice.synthesizer
    with torch.inference_mode():
        a0 = syn.infer(**x, sid=torch.tensor([0, 0]), noise=ZERO_NOISE)[0]
        mixed = syn.infer(**x, sid=torch.tensor([0, 3]), noise=ZERO_NOISE)[0]
        one = {k: v[1:, :7] if v.ndim > 1 else torch.tensor([7]) for k, v in x.items()}
        single = syn.infer(**one, sid=torch.tensor([3]), noise=ZERO_NOISE)[0]
        with pytest.raises(ValueError, match="out of range"):
            syn.infer(**x, sid=torch.tensor([4, 0]))
    assert a0.shape == (2, 1, 10 * cfg.hop)
    assert (a0[1] - mixed[1]).abs().max() > 1e-3, "speaker id has no effect"
    torch.testing.assert_close(mixed[0], a0[0])
    # the padded frames of item 1 are masked: its valid part equals running it alone
    # away from the end (the decoder's receptive field spans a few frames)
    n = 3 * cfg.hop
    assert (mixed[1, :, :n] - single[0, :, :n]).abs().max() < 1e-4


def test_noise_options() -> None:
    torch.manual_seed(0)
    cfg = tiny_config(n_speakers=1)
    syn = SynthesizerTrn(cfg).eval()
    x = _inputs(cfg, 4)
    with torch.inference_mode():
        a = syn.infer(**x, noise=ZERO_NOISE)[0]
        b = syn.infer(**x, noise=ZERO_NOISE)[0]
        c = syn.infer(**x, generator=torch.Generator().manual_seed(5))[0]
        d = syn.infer(**x, generator=torch.Generator().manual_seed(5))[0]
    assert torch.equal(a, b) and torch.equal(c, d)
    assert (a - c).abs().max() > 0


def test_training_checkpoint_tells_32k_from_48k() -> None:
    """v1 32k and v1 48k share kernel sizes; a no-f0 G_*.pth is told apart by enc_q's input size."""
    for rate in (32000, 48000):
        cfg = variant(RvcVersion.V1, rate, False)
        net = SynthesizerTrn(cfg, with_posterior=True, weight_norm=True)
        sd = rename_weight_norm(net.state_dict(), WeightNorm.OLD)
        assert sum(k.startswith("enc_q.") for k in sd) == 103
        assert infer_config_from_state_dict(sd) == cfg
        without_enc_q = {k: v for k, v in sd.items() if not k.startswith("enc_q.")}
        with pytest.raises(ModelFormatError, match="several community variants fit"):
            infer_config_from_state_dict(without_enc_q)


@pytest.mark.slow
def test_ddp_training_checkpoint_with_parametrized_weight_norm(tmp_path: Path) -> None:
    """What a training run saves: DDP ``module.`` prefix, new-style weight norm, fp32, enc_q."""
    cfg = variant(RvcVersion.V2, 32000, True, n_speakers=2)
    net = SynthesizerTrn(cfg, with_posterior=True, weight_norm=True)
    sd = {f"module.{k}": v for k, v in net.state_dict().items()}
    path = _save(
        tmp_path / "G_100.pth", {"model": sd, "iteration": 100, "optimizer": {}, "learning_rate": 1e-4}
    )
    found = detect(path)
    assert (found.kind, found.sample_rate, found.weight_norm, found.n_speakers) == (
        ModelKind.RVC_TRAINING,
        32000,
        WeightNorm.NEW,
        2,
    )
    voice = load_voice(path)
    assert voice.config == cfg
    with torch.no_grad():
        torch.testing.assert_close(voice.synthesizer.dec.ups[0].weight, net.dec.ups[0].weight)
        torch.testing.assert_close(
            voice.synthesizer.flow.flows[2].enc.cond_layer.weight, net.flow.flows[2].enc.cond_layer.weight
        )


# ------------------------------------------------------------------------------------------
# Errors


@pytest.fixture(scope="module")
def v2_weights() -> tuple[RvcConfig, dict[str, torch.Tensor]]:
    torch.manual_seed(0)
    cfg = variant(RvcVersion.V2, 40000, True)
    return cfg, community_state_dict(SynthesizerTrn(cfg))


def _save(path: Path, obj: object) -> Path:
    torch.save(obj, path)
    return path


def test_missing_and_unexpected_keys_are_named(tmp_path: Path, v2_weights) -> None:  # type: ignore[no-untyped-def]
    cfg, w = v2_weights
    broken = dict(w)
    del broken["dec.conv_post.weight"]
    broken["dec.extra.weight"] = torch.zeros(1)
    path = _save(tmp_path / "broken.pth", voice_container(cfg, broken))
    with pytest.raises(ModelFormatError) as err:
        load_voice(path)
    msg = str(err.value)
    assert "broken.pth" in msg and "missing keys: dec.conv_post.weight" in msg
    assert "unexpected keys: dec.extra.weight" in msg and "\n" not in msg


def test_config_that_does_not_fit_the_weights(tmp_path: Path, v2_weights) -> None:  # type: ignore[no-untyped-def]
    cfg, w = v2_weights
    obj = voice_container(cfg, w)
    obj["config"] = variant(RvcVersion.V2, 48000).to_community_list()
    with pytest.raises(ModelFormatError, match=r"shape mismatch: dec\.ups\.0"):
        load_voice(_save(tmp_path / "a.pth", obj))
    obj = voice_container(cfg, w)
    obj["version"] = "v1"
    with pytest.raises(ModelFormatError, match="says version v1 but its weights take 768-dim"):
        load_voice(_save(tmp_path / "b.pth", obj))
    obj = voice_container(cfg, w)
    obj["f0"] = 0
    with pytest.raises(ModelFormatError, match="says f0=0"):
        load_voice(_save(tmp_path / "c.pth", obj))
    nan = dict(w)
    nan["enc_p.proj.bias"] = torch.full_like(w["enc_p.proj.bias"], float("nan"))
    with pytest.raises(ModelFormatError, match=r"damaged: non-finite values \(NaN/inf\) in enc_p\.proj\.b"):
        load_voice(_save(tmp_path / "nan.pth", voice_container(cfg, nan)))
    obj = voice_container(cfg, w)
    obj["vocoder"] = "RefineGAN"
    with pytest.raises(ModelFormatError, match="uses the RefineGAN vocoder"):
        load_voice(_save(tmp_path / "d.pth", obj))


@pytest.mark.parametrize(
    ("mutate", "pattern"),
    [
        (lambda c: c[:17], "expected 18 list entries, got 17"),
        (lambda c: [*c[:12], "10,10,2,2", *c[13:]], "upsample_rates must be a list"),
        (lambda c: [*c[:12], [10, 10, 2], *c[13:]], "same non-zero length"),
        (lambda c: [*c[:14], [16, 16, 4, 3], *c[15:]], "kernel 3 does not fit stride 2"),
        (lambda c: [*c[:9], "3", *c[10:]], "resblock must be '1' or '2'"),
        (lambda c: [*c[:5], 5, *c[6:]], "not divisible by n_heads"),
        (lambda c: [*c[:4], 10**9, *c[5:]], "filter_channels=1000000000 is implausibly large"),
        (lambda c: [*c[:10], [3, -7, 11], *c[11:]], "must be positive"),
    ],
    ids=["short", "string", "lengths", "kernel", "resblock", "heads", "huge", "negative"],
)
def test_invalid_config_lists_are_rejected(mutate, pattern: str) -> None:  # type: ignore[no-untyped-def]
    good = variant(RvcVersion.V2, 40000).to_community_list()
    assert from_community(good, "v2", 1) == variant(RvcVersion.V2, 40000)
    assert from_community([*good[:17], "40k"], "v2", 1) == variant(RvcVersion.V2, 40000)
    with pytest.raises(ModelFormatError, match=pattern):
        from_community(mutate(good), "v2", 1)
    with pytest.raises(ModelFormatError, match="invalid RVC version 'v3'"):
        from_community(good, "v3", 1)


def test_wrong_kind_and_malicious_voice(tmp_path: Path) -> None:
    rmvpe = _save(
        tmp_path / "rmvpe.pt", {"unet.encoder.bn.weight": torch.ones(1), "fc.1.weight": torch.ones(1)}
    )
    with pytest.raises(
        ModelFormatError, match=r"rmvpe.pt is an RMVPE pitch model \(rmvpe.pt\), expected an RVC voice model$"
    ):
        load_voice(rmvpe)
    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):  # type: ignore[no-untyped-def]
            return (os.system, (f"touch {marker}",))

    evil = _save(tmp_path / "evil.pth", {"weight": {}, "config": [], "info": Payload()})
    with pytest.raises(ModelFormatError, match=r"evil.pth contains code"):
        load_voice(evil)
    assert not marker.exists()


def test_half_precision_runs(tmp_path: Path) -> None:
    cfg = tiny_config(RvcVersion.V2)
    path = _random_voice(tmp_path / "v.pth", cfg)
    full, half = load_voice(path), load_voice(path, half=True)
    assert half.dtype == torch.float16 and next(half.synthesizer.parameters()).dtype == torch.float16
    x = _inputs(cfg, 6)
    with torch.inference_mode():
        a = full.synthesizer.infer(**x, noise=ZERO_NOISE)[0]
        b = half.synthesizer.infer(**x, noise=ZERO_NOISE)[0]
    assert b.dtype == torch.float16 and (a - b.float()).abs().max() < 0.05


@pytest.mark.parametrize(("version", "rate"), KNOWN_VARIANTS, ids=lambda v: getattr(v, "value", v))
def test_variants_are_the_reference_config_lists(reference_dir: Path, version: RvcVersion, rate: int) -> None:
    """The 18-entry lists the reference's extract_small_model() writes into voice files."""
    lists = load_manifest(reference_dir / "manifest_rvc_v2_f0_40k.json")["hyperparameters"][
        "rvc_config_lists"
    ]
    assert variant(version, rate).to_community_list() == lists[f"{version.value}_{rate // 1000}k"]
