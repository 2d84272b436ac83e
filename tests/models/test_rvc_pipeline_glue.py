"""Offline RVC pipeline glue vs the reference golden ``pipeline_v2_40k``, stage by stage.

Each stage is fed the golden input of that stage. The last test replays the golden component
outputs (HuBERT features, RMVPE f0, synthesizer audio) through the whole pipeline object, with
replay components that check they receive exactly the golden inputs; everything else is ours.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from models.kinds import RvcVersion
from models.retrieval import FeatureIndex, blend
from models.rvc import glue
from models.rvc.pipeline import PipelineConfig, RvcPipeline

HIGHPASS_ATOL = 2e-7
"""How far the float64 high-pass may land from the golden one on another x86 CPU.

``filtfilt`` starts from initial conditions that scipy solves with LAPACK (``lfilter_zi``), and
LAPACK picks other kernels on other CPUs (AMD EPYC and Intel Xeon give 4.5e-8 apart here). The
48 Hz fifth-order high-pass has its poles close to z = 1, so that linear system is badly
conditioned and float64 rounding grows to ~1e-8..1e-7. The models see the result in float32,
whose spacing at these amplitudes (up to 0.95) is 6e-8: the difference is at most a few float32
steps, below anything the pipeline's outputs can show (they are checked exactly below).
"""
FLOAT32_STEPS = 2 * float(np.spacing(np.float32(1.0)))
"""The replayed components' inputs may differ from the golden ones by the high-pass's float32
rounding only (see HIGHPASS_ATOL): two float32 steps at magnitude 1."""


@pytest.fixture(scope="module")
def golden(reference_dir):
    with np.load(reference_dir / "pipeline_v2_40k.npz") as z:
        return {k: z[k] for k in z.files}


@pytest.fixture(scope="module")
def index(reference_dir):
    return FeatureIndex.load(reference_dir / "pipeline_v2_40k.index")


def test_wav_is_the_input(golden, reference_dir):
    x, sr = sf.read(reference_dir / "pipeline_v2_40k.wav", dtype="float32")
    assert sr == 16000
    np.testing.assert_array_equal(x, golden["input_audio"])


def test_peak_rule_and_highpass(golden):
    x = glue.peak_normalize(golden["input_audio"])
    np.testing.assert_array_equal(x, golden["audio_peak_normalized"])
    np.testing.assert_allclose(glue.HPF_B, golden["hpf_b"], rtol=0, atol=1e-12)
    np.testing.assert_allclose(glue.HPF_A, golden["hpf_a"], rtol=0, atol=1e-12)
    hp = glue.highpass(golden["audio_peak_normalized"])
    assert hp.dtype == np.float64
    assert np.abs(hp - golden["audio_highpassed"]).max() <= HIGHPASS_ATOL


def test_peak_rule_scales_loud_input():
    x = np.array([0.0, 2.0, -1.0], dtype=np.float32)
    y = glue.peak_normalize(x)
    assert y.dtype == np.float32
    assert np.isclose(np.abs(y).max(), 0.95)


def test_reflect_padding(golden):
    np.testing.assert_array_equal(glue.reflect_pad(golden["audio_highpassed"], 16000), golden["audio_padded"])


def test_f0_key_shift_and_coarse(golden):
    shifted = glue.shift_f0(golden["f0_rmvpe"], 3)
    np.testing.assert_array_equal(shifted, golden["f0_shifted"])
    coarse = glue.coarse_pitch(shifted)
    assert coarse.dtype == np.int32
    np.testing.assert_array_equal(coarse, golden["pitch_coarse_full"])
    np.testing.assert_array_equal(coarse[:498], golden["pitch"][0])
    np.testing.assert_array_equal(shifted[:498].astype(np.float32), golden["pitchf"][0])


def test_coarse_pitch_edges():
    f0 = np.array([0.0, 10.0, 50.0, 1100.0, 5000.0])
    np.testing.assert_array_equal(glue.coarse_pitch(f0), [1, 1, 1, 255, 255])
    torch_coarse = glue.coarse_pitch_torch(torch.tensor(f0, dtype=torch.float32))
    np.testing.assert_array_equal(torch_coarse.numpy(), [1, 1, 1, 255, 255])


def test_retrieval_ids_scores_and_blend(golden, index):
    result = index.retrieve(golden["hubert_feats"][0])
    np.testing.assert_array_equal(result.ids, golden["index_ix"])
    np.testing.assert_allclose(result.score, golden["index_score"], rtol=1e-5)
    blended = blend(golden["hubert_feats"][0], result.retrieved, 0.75)
    assert np.abs(blended - golden["feats_blended"][0]).max() <= 1e-5


def test_upsampling_and_length(golden):
    pipe = RvcPipeline(torch.nn.Identity(), 40000, RvcVersion.V2, content=None, f0=None)  # type: ignore[arg-type]
    feats = torch.from_numpy(golden["feats_blended"])
    pitch = torch.from_numpy(golden["pitch_coarse_full"][:500]).long()[None]
    pitchf = torch.from_numpy(golden["f0_shifted"][:500].astype(np.float32))[None]
    net_feats, p_len, pitch, pitchf = pipe.net_inputs(
        feats, torch.from_numpy(golden["hubert_feats"]), 80000, pitch, pitchf
    )
    assert p_len == int(golden["p_len"][0]) == 498
    assert np.abs(net_feats.numpy() - golden["feats_interp"]).max() <= 1e-5
    np.testing.assert_array_equal(pitch.numpy(), golden["pitch"])
    np.testing.assert_array_equal(pitchf.numpy(), golden["pitchf"])


def test_protect_rule():
    feats = torch.ones(1, 4, 3)
    feats0 = torch.zeros(1, 4, 3)
    pitchf = torch.tensor([[0.0, 0.5, 1.0, 200.0]])
    out = glue.protect_blend(feats, feats0, pitchf, 0.33)
    # unvoiced (< 1 Hz, including 0 < f0 < 1) keeps `protect` of the blended features
    np.testing.assert_allclose(out[0, :, 0].numpy(), [0.33, 0.33, 1.0, 1.0], rtol=1e-6)


def test_rms_mix_and_int16(golden):
    mixed, rms1, rms2 = glue.rms_mix(golden["audio_highpassed"], golden["audio_trimmed"], 40000, 0.25)
    np.testing.assert_array_equal(rms1, golden["rms1_frames"])
    np.testing.assert_array_equal(rms2, golden["rms2_frames"])
    assert np.abs(mixed - golden["audio_rms_mixed"]).max() <= 1e-6
    np.testing.assert_array_equal(glue.to_int16(golden["audio_rms_mixed"]), golden["output_int16"])


def test_int16_rescales_loud_output():
    y = np.array([0.0, 2.0, -2.0, 0.5], dtype=np.float32)
    out = glue.to_int16(y)
    assert out.max() == int(np.float32(2.0) * (32768 / (np.float32(2.0) / np.float32(0.99))))
    assert out[3] == int(np.float32(0.5) * np.float32(32768 / (np.float32(2.0) / np.float32(0.99))))


def test_frame_rms_matches_definition():
    rng = np.random.default_rng(1)
    x = rng.standard_normal(1000)
    rms = glue.frame_rms(x, 200, 100, chunk=3)
    padded = np.pad(x, (100, 100))
    ref = [np.sqrt(np.mean(padded[i * 100 : i * 100 + 200] ** 2)) for i in range(11)]
    np.testing.assert_allclose(rms, ref, rtol=1e-5)


class _Replay:
    """Returns a golden component output after checking it got the golden input."""

    def __init__(self, expected_input: np.ndarray, output: np.ndarray, atol: float = 0.0) -> None:
        self.expected, self.output, self.atol = expected_input, output, atol
        self.calls = 0

    def check(self, x: np.ndarray) -> None:
        self.calls += 1
        assert x.shape == self.expected.shape
        assert np.abs(x - self.expected).max() <= self.atol


class _ReplayContent(_Replay):
    def extract(self, wav16k: torch.Tensor, layer: int, final_proj: bool) -> torch.Tensor:
        assert (layer, final_proj) == (12, False)
        self.check(wav16k[0].numpy())
        return torch.from_numpy(self.output)


class _ReplayF0(_Replay):
    def __call__(self, x: np.ndarray) -> np.ndarray:
        assert x.dtype == np.float32
        self.check(x)
        return self.output.copy()


class _ReplaySynth(torch.nn.Module):
    def __init__(self, golden) -> None:
        super().__init__()
        self.golden = golden

    def infer(self, phone, lengths, pitch, pitchf, sid, skip_head=None, return_length=None):
        g = self.golden
        assert np.abs(phone.numpy() - g["feats_interp"]).max() <= 1e-5
        np.testing.assert_array_equal(lengths.numpy(), g["p_len"])
        np.testing.assert_array_equal(pitch.numpy(), g["pitch"])
        np.testing.assert_array_equal(pitchf.numpy(), g["pitchf"])
        np.testing.assert_array_equal(sid.numpy(), g["sid"])
        return (torch.from_numpy(g["synth_audio"])[None, None],)


def test_whole_glue_with_replayed_components(golden, index):
    padded = golden["audio_padded"].astype(np.float32)
    content = _ReplayContent(padded, golden["hubert_feats"], atol=FLOAT32_STEPS)
    f0 = _ReplayF0(padded, golden["f0_rmvpe"], atol=FLOAT32_STEPS)
    cfg = PipelineConfig(pitch=3, index_rate=0.75, protect=0.33, rms_mix_rate=0.25)
    pipe = RvcPipeline(_ReplaySynth(golden), 40000, RvcVersion.V2, content, f0, index, cfg)
    pipe.trace = []
    fractions: list[float] = []
    y, rate = pipe.convert_array(golden["input_audio"], 16000, progress=fractions.append)
    assert rate == 40000
    assert content.calls == f0.calls == 1
    assert fractions == pytest.approx([1 / 3, 2 / 3, 1.0])  # pitch, content, synthesis passes
    np.testing.assert_array_equal(pipe.trace[0].retrieval.ids, golden["index_ix"])
    np.testing.assert_array_equal((y * 32768).astype(np.int16), golden["output_int16"])
    mixed = pipe.convert_float(golden["input_audio"], 16000)
    assert np.abs(mixed - golden["audio_rms_mixed"]).max() <= 1e-6


class _EnergyContent:
    """A local stand-in encoder: the RMS of each 25 ms window at 20 ms hops (HuBERT's framing)."""

    def extract(self, wav16k: torch.Tensor, layer: int, final_proj: bool) -> torch.Tensor:
        frames = wav16k[0].unfold(0, 400, 320)
        return frames.pow(2).mean(dim=1).sqrt()[None, :, None].repeat(1, 1, 4)


class _HoldSynth(torch.nn.Module):
    """Renders each 10 ms frame's first feature as a constant: output follows the input's envelope."""

    def infer(self, phone, lengths, pitch, pitchf, sid, skip_head=None, return_length=None):
        assert phone.shape[1] == pitch.shape[1] == pitchf.shape[1] == int(lengths[0])
        return (torch.repeat_interleave(phone[0, :, 0], 400)[None, None],)


def test_long_input_is_split_at_quiet_points_and_stays_aligned():
    sr = 16000
    t = np.arange(int(sr * 9.3)) / sr
    envelope = 0.5 + 0.4 * np.sin(2 * np.pi * 0.7 * t)
    x = (envelope * np.sin(2 * np.pi * 230 * t)).astype(np.float32)
    x[int(2.9 * sr) : int(3.1 * sr)] = 0  # quiet points near the 3 s and 6 s cut targets
    x[int(5.8 * sr) : int(6.0 * sr)] = 0
    f0 = lambda a: np.full(1 + len(a) // 160, 120.0)  # noqa: E731
    short = PipelineConfig(rms_mix_rate=1.0, x_query=1, x_center=3, x_max=4)
    whole = PipelineConfig(rms_mix_rate=1.0)
    split = RvcPipeline(_HoldSynth(), 40000, RvcVersion.V2, _EnergyContent(), f0, None, short)
    split.trace = []
    one = RvcPipeline(_HoldSynth(), 40000, RvcVersion.V2, _EnergyContent(), f0, None, whole)
    y_split = split.convert_float(x, sr)
    y_one = one.convert_float(x, sr)
    assert len(split.trace) == 4  # cuts near 3, 6 and 9 s
    cuts = glue.split_points(glue.highpass(x), 3 * sr, sr, 4 * sr)
    assert 2.9 <= cuts[0] / sr <= 3.1 and 5.8 <= cuts[1] / sr <= 6.0  # inside the silent stretches
    assert abs(len(y_split) - len(y_one)) <= 3 * 2 * 400  # each extra segment loses <= 2 HuBERT frames
    n = min(len(y_split), len(y_one))
    # away from the cuts, both follow the same envelope at the same time
    for start in (int(1.0 * 40000), int(4.5 * 40000), int(7.5 * 40000)):
        a, b = y_split[start : start + 20000], y_one[start : start + 20000]
        assert start + 20000 < n
        assert np.abs(a - b).max() < 0.02 * np.abs(b).max()


def test_long_input_passes_keep_segments_in_memory_when_the_disk_is_full(monkeypatch):
    """Between passes a long file's per-segment arrays go to a temporary folder; a full disk
    falls back to memory and gives the same output."""
    sr = 16000
    t = np.arange(int(sr * 9.3)) / sr
    x = ((0.5 + 0.4 * np.sin(2 * np.pi * 0.7 * t)) * np.sin(2 * np.pi * 230 * t)).astype(np.float32)
    f0 = lambda a: np.full(1 + len(a) // 160, 120.0)  # noqa: E731
    cfg = PipelineConfig(rms_mix_rate=0.5, x_query=1, x_center=3, x_max=4)
    pipe = RvcPipeline(_HoldSynth(), 40000, RvcVersion.V2, _EnergyContent(), f0, None, cfg)
    saved: list[str] = []
    real_save = np.save
    monkeypatch.setattr(np, "save", lambda path, a: (saved.append(str(path)), real_save(path, a)))
    on_disk = pipe.convert_float(x, sr)
    assert len(saved) == 2 * 4 and all("voxshift-" in p for p in saved)  # features + outputs
    assert not any(Path(p).exists() for p in saved)  # cleaned up

    def full(path, a):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(np, "save", full)
    in_memory = pipe.convert_float(x, sr)
    np.testing.assert_array_equal(on_disk, in_memory)
