"""RMVPE parity with the reference golden (rule weights in the real bare-state-dict container),
RVC's f0 conventions against the pipeline goldens, and sanity of the FCPE/DSP/CREPE trackers."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import signal

from models.errors import ModelFormatError
from models.pitch import (
    PitchTrackerError,
    coarse_pitch,
    coarse_pitch_torch,
    create_tracker,
    load_rmvpe,
    median_filter,
    shift_f0,
)
from models.pitch.rmvpe import MelConfig, decode_cents, mel_filterbank
from models.pitch.testing import write_rmvpe_checkpoint
from models.testing import check_rule_weights, load_manifest, rule_weights

TOL = 1e-4  # README: RMVPE mel / hidden, max abs diff
SR = 16000


@pytest.fixture(scope="module")
def rmvpe_file(tmp_path_factory, reference_dir):
    manifest = load_manifest(reference_dir / "manifest_rmvpe.json")
    weights = rule_weights(manifest)
    check_rule_weights(manifest, weights)
    return write_rmvpe_checkpoint(tmp_path_factory.mktemp("rmvpe") / "rmvpe.pt", weights)


@pytest.fixture(scope="module")
def rmvpe(rmvpe_file):
    return load_rmvpe(rmvpe_file)


@pytest.fixture(scope="module")
def golden(reference_dir):
    return dict(np.load(reference_dir / "golden_rmvpe.npz"))


@pytest.fixture(scope="module")
def hidden(rmvpe, golden):
    """Our salience on the golden input (computed once for several tests)."""
    return rmvpe.salience(golden["audio"])


def cents(f0: np.ndarray) -> np.ndarray:
    return 1200 * np.log2(np.asarray(f0) / 10)


def harmonic_tone(f0: float, n: int = 12000, amp: float = 0.3) -> np.ndarray:
    t = np.arange(n) / SR
    return (amp * sum(np.sin(2 * np.pi * f0 * k * t + k) / k for k in range(1, 8))).astype(np.float32)


def test_mel_filterbank_equals_librosa_htk():
    librosa = pytest.importorskip("librosa")
    ref = librosa.filters.mel(sr=16000, n_fft=1024, n_mels=128, fmin=30, fmax=8000, htk=True)
    assert np.array_equal(mel_filterbank(MelConfig()), ref)


def test_mel_matches_golden(rmvpe, golden):
    mel = rmvpe.mel(golden["audio"])
    assert mel.shape == (1, 128, 151)
    assert (mel - torch.from_numpy(golden["mel"])).abs().max().item() <= TOL


def test_salience_matches_golden(rmvpe, golden, hidden):
    assert hidden.shape == (151, 360) and hidden.dtype == np.float32
    assert np.abs(hidden - golden["hidden"]).max() <= TOL
    from_golden_mel = rmvpe.mel_to_salience(torch.from_numpy(golden["mel"])).numpy()
    assert np.abs(from_golden_mel - golden["hidden"]).max() <= TOL


def test_decode_of_golden_salience_is_exact(golden):
    got = decode_cents(golden["hidden"], 0.03)
    np.testing.assert_allclose(got, golden["cents"], rtol=0, atol=1e-9)


def test_f0_matches_golden_in_cents(rmvpe, golden, hidden):
    err = float(np.abs(hidden - golden["hidden"]).max())
    f0 = rmvpe.f0(golden["audio"])
    assert f0.shape == (151,) and f0.dtype == np.float64
    sure = golden["argmax_margin"] > err
    assert sure.sum() >= 140
    assert np.abs(cents(f0[sure]) - golden["cents"][sure]).max() <= 0.5
    alt = decode_cents(hidden, float(golden["thred_alt"]))  # the same decode f0() runs
    assert np.array_equal(alt > 0, golden["f0_thred_alt"] > 0)
    assert (alt == 0).any() and (alt > 0).any()


def test_realtime_f0_blocks_match_reference(rmvpe, reference_dir):
    rt = np.load(reference_dir / "realtime_v2_40k.npz")
    for block in (2, 5):
        f0 = rmvpe.f0(rt["f0_in"][block])
        ref = rt["f0_pitchf"][block].astype(np.float64) / 2 ** (3 / 12)  # undo the +3 key shift
        assert f0.shape == (32,)
        assert np.abs(cents(f0) - cents(ref)).max() <= 0.5


def test_lengths_not_multiple_of_32_frames(rmvpe):
    x = harmonic_tone(200.0, 5321)  # 34 frames, padded to 64 inside
    assert rmvpe.f0(x).shape == (34,)
    assert rmvpe.f0(x[:513]).shape == (4,)
    with pytest.raises(ValueError, match="more than 512 samples"):
        rmvpe.f0(np.zeros(512, np.float32))


def test_rmvpe_refuses_other_files(tmp_path):
    other = tmp_path / "other.pt"
    torch.save({"model": {"feature_extractor.conv_layers.0.0.weight": torch.zeros(512, 1, 10)}}, other)
    with pytest.raises(ModelFormatError, match="expected an RMVPE"):
        load_rmvpe(other)
    wrong = tmp_path / "wrong.pt"
    torch.save({"unet.encoder.bn.weight": torch.ones(1), "fc.1.weight": torch.zeros(360, 512)}, wrong)
    with pytest.raises(ModelFormatError, match="missing"):
        load_rmvpe(wrong)


# ---- RVC conventions, against the whole-pipeline goldens ----------------------------------------


def test_offline_key_shift_and_coarse_pitch_are_exact(reference_dir):
    p = np.load(reference_dir / "pipeline_v2_40k.npz")
    shifted = shift_f0(p["f0_rmvpe"], 3)
    assert np.array_equal(shifted, p["f0_shifted"])
    coarse = coarse_pitch(shifted)
    assert coarse.dtype == np.int32 and np.array_equal(coarse, p["pitch_coarse_full"])
    assert np.array_equal(coarse[:498], p["pitch"][0])


def test_realtime_coarse_pitch_is_exact(reference_dir):
    rt = np.load(reference_dir / "realtime_v2_40k.npz")
    got = coarse_pitch_torch(torch.from_numpy(rt["f0_pitchf"]))
    assert got.dtype == torch.int64 and torch.equal(got, torch.from_numpy(rt["f0_pitch"]))


def test_coarse_pitch_range_and_unvoiced():
    f0 = np.array([0.0, 10.0, 50.0, 1100.0, 5000.0])
    assert coarse_pitch(f0).tolist() == [1, 1, 1, 255, 255]
    assert coarse_pitch_torch(torch.tensor(f0)).tolist() == [1, 1, 1, 255, 255]
    assert coarse_pitch(np.array([200.0]))[0] == coarse_pitch_torch(torch.tensor([200.0]))[0]


def test_median_filter_follows_the_reference_switch():
    f0 = np.array([100.0, 100.0, 400.0, 100.0, 0.0, 100.0])
    assert np.array_equal(median_filter(f0, 3), signal.medfilt(f0, 3))
    assert np.array_equal(median_filter(f0, 2), f0)


# ---- tracker interface --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fcpe():
    return create_tracker("fcpe")


@pytest.mark.parametrize("method", ["fcpe", "dsp"])
@pytest.mark.parametrize("f0", [90.0, 220.0, 523.25])
def test_trackers_find_a_harmonic_tone(method, f0, fcpe):
    tracker = fcpe if method == "fcpe" else create_tracker(method)
    x = harmonic_tone(f0)
    est = tracker.f0(x)
    assert est.shape == (1 + len(x) // 160,)
    inner = est[6:-6]  # frames whose analysis window lies inside the tone
    assert (inner > 0).all()
    assert np.abs(cents(inner) - cents(np.array([f0]))).max() <= 5.0


@pytest.mark.parametrize("method", ["fcpe", "dsp"])
def test_trackers_report_silence_as_unvoiced(method, fcpe):
    tracker = fcpe if method == "fcpe" else create_tracker(method)
    assert np.array_equal(tracker.f0(np.zeros(8000, np.float32)), np.zeros(51))


def test_rmvpe_tracker_uses_the_loaded_model(rmvpe_file, rmvpe):
    tracker = create_tracker("rmvpe", rmvpe_path=rmvpe_file)
    x = harmonic_tone(300.0, 3200)
    assert np.array_equal(tracker.f0(x), rmvpe.f0(x))
    assert np.array_equal(tracker.f0(x[:400]), np.zeros(3))  # too short for RMVPE: unvoiced


def test_create_tracker_errors():
    with pytest.raises(PitchTrackerError, match=r"rmvpe\.pt"):
        create_tracker("rmvpe")
    with pytest.raises(PitchTrackerError, match="unknown pitch method"):
        create_tracker("harvest")


@pytest.mark.slow
def test_crepe_finds_a_harmonic_tone():
    tracker = create_tracker("crepe")
    x = harmonic_tone(220.0, 4000)
    est = tracker.f0(x)
    assert est.shape == (26,)
    inner = est[6:-6]
    # CREPE's Viterbi decode moves in 20-cent bins: a looser sanity bound than FCPE/DSP
    assert (inner > 0).all() and np.abs(cents(inner) - cents(np.array([220.0]))).max() <= 30.0
    assert np.array_equal(tracker.f0(np.zeros(4000, np.float32)), np.zeros(26))
