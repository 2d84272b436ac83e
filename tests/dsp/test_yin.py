"""YIN: one implementation for single segments (built-in voices) and whole signals (pitch tracker)."""

from __future__ import annotations

import numpy as np
import pytest

from dsp import yin as yin_mod
from dsp.yin import Yin, YinConfig

SR = 16000
TRACKER = YinConfig(50.0, 1100.0, window=0.040, threshold=0.15, fallback_max=None, silence_db=-60.0)
"""The "dsp" pitch tracker's settings (models.pitch.trackers.DspTracker)."""


def harmonic_tone(f0: float, n: int, sr: int = SR, amp: float = 0.3) -> np.ndarray:
    t = np.arange(n) / sr
    return (amp * sum(np.sin(2 * np.pi * f0 * k * t + k) / k for k in range(1, 8))).astype(np.float32)


def test_track_is_blockwise_consistent():
    x = np.concatenate([harmonic_tone(180.0, 8000), np.zeros(3000, np.float32), harmonic_tone(260.0, 9000)])
    tracker = Yin(SR, TRACKER)
    whole = tracker.track(x, 160)
    saved = yin_mod.BLOCK_FRAMES
    try:
        yin_mod.BLOCK_FRAMES = 7  # many small blocks must give the same frames
        assert np.array_equal(tracker.track(x, 160), whole)
    finally:
        yin_mod.BLOCK_FRAMES = saved
    assert (whole[55:70] == 0).all() and (whole[10:40] > 0).all() and (whole[80:120] > 0).all()


@pytest.mark.parametrize("sr", [16000, 48000])
@pytest.mark.parametrize("f0", [95.0, 150.0, 440.0])
def test_estimate_finds_the_period(sr, f0):
    yin = Yin(sr)
    x = harmonic_tone(f0, yin.length + 500, sr)
    period, aperiodicity = yin.estimate(x[500:])
    # parabolic refinement of a clean harmonic tone: within 0.1 % of the true period
    assert period == pytest.approx(sr / f0, rel=1e-3)
    assert aperiodicity < 0.05


def test_silence_and_noise_are_unvoiced():
    yin = Yin(48000)
    assert yin.estimate(np.zeros(yin.length, np.float32)) == (0.0, 1.0)
    noise = 0.3 * np.random.default_rng(1).standard_normal(yin.length)
    period, aperiodicity = yin.estimate(noise)
    assert period == 0.0 and aperiodicity > 0.35


def test_fallback_takes_a_weak_dip_only_when_allowed():
    """A tone in noise has a dip above the threshold: the built-in default keeps it (fallback),
    the tracker's settings call the segment unvoiced."""
    rng = np.random.default_rng(2)
    x = harmonic_tone(200.0, 4000) + 0.12 * rng.standard_normal(4000).astype(np.float32)
    lenient = Yin(SR, YinConfig(threshold=0.05, fallback_max=0.9))
    strict = Yin(SR, YinConfig(threshold=0.05, fallback_max=None))
    seg = x[: lenient.length]
    period, aperiodicity = lenient.estimate(seg)
    assert 0.05 < aperiodicity < 0.9
    multiple = period / (SR / 200.0)  # the global minimum may sit at a multiple of the period
    assert multiple >= 1 and abs(multiple - round(multiple)) < 0.02
    assert strict.estimate(seg) == (0.0, aperiodicity)


def test_analyse_is_estimate_per_segment():
    yin = Yin(SR)
    x = np.concatenate([harmonic_tone(120.0, 3000), np.zeros(1500, np.float32), harmonic_tone(300.0, 3000)])
    starts = range(0, len(x) - yin.length, 700)
    periods, aperiodicity = yin.analyse(np.stack([x[s : s + yin.length] for s in starts]))
    for k, s in enumerate(starts):
        # the same numbers up to FFT rounding (a batch and a single row may take other code paths)
        p, a = yin.estimate(x[s : s + yin.length])
        assert periods[k] == pytest.approx(p, rel=1e-9, abs=1e-12)
        assert aperiodicity[k] == pytest.approx(a, rel=1e-6, abs=1e-12)


def test_bad_configs_are_rejected():
    with pytest.raises(ValueError, match="f0_min"):
        YinConfig(f0_min=500.0, f0_max=100.0)
    with pytest.raises(ValueError, match="fallback_max"):
        YinConfig(threshold=0.3, fallback_max=0.2)
    with pytest.raises(ValueError, match="half the sample rate"):
        Yin(8000, YinConfig(f0_max=5000.0))
