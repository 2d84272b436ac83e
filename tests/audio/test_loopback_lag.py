"""``find_lag`` on synthetic recordings: a delayed copy is found, unrelated noise is not."""

from __future__ import annotations

import numpy as np

from audio.loopback import LoopbackConfig, find_lag, probe_signal


def test_a_delayed_noisy_copy_is_found_to_the_sample():
    probe = probe_signal(9600, -18.0, seed=7)
    rec = np.random.default_rng(1).standard_normal(24000).astype(np.float32) * 0.02
    rec[1234 : 1234 + len(probe)] += 0.5 * probe
    lag, corr, ratio = find_lag(probe, rec)
    assert lag == 1234
    assert corr > 0.8
    assert ratio > LoopbackConfig().min_peak_ratio


def test_unrelated_noise_or_silence_stays_below_the_threshold():
    probe = probe_signal(9600, -18.0, seed=7)
    for seed in range(5):
        rec = np.random.default_rng(seed + 100).standard_normal(24000).astype(np.float32) * 0.2
        _, _, ratio = find_lag(probe, rec)
        assert ratio < LoopbackConfig().min_peak_ratio
    assert find_lag(probe, np.zeros(24000, dtype=np.float32))[2] == 0.0
