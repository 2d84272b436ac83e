"""Test signals for the built-in voice tests and benchmarks: buzzy harmonic tones, source-filter vowels."""

from __future__ import annotations

import numpy as np


def harmonic(sr: int, seconds: float, f0: float = 140.0, glide: float = 0.2, seed: int = 0) -> np.ndarray:
    """A buzzy, vowel-like tone: every harmonic of a slowly gliding f0 (±``glide`` octaves at
    0.4 Hz) with 1/k amplitudes, plus faint noise; float32 ``[n]``."""
    t = np.arange(int(sr * seconds)) / sr
    f = f0 * 2.0 ** (glide * np.sin(2 * np.pi * 0.4 * t))
    phase = 2 * np.pi * np.cumsum(f) / sr
    x = np.zeros_like(t)
    for k in range(1, 40):
        if k * f0 * 2**glide < 0.45 * sr:
            x += (0.5 / k) * np.sin(k * phase)
    x = 0.25 * x + 0.002 * np.random.default_rng(seed).standard_normal(t.shape)
    return x.astype(np.float32)


def vowel(
    sr: int, seconds: float, f0: float = 120.0, formants=((700, 80), (1220, 90), (2600, 120))
) -> np.ndarray:
    """A source-filter vowel: a glottal-like pulse train (f0 with a slow ±3 % wobble) through
    two-pole resonators at ``formants`` ((Hz, bandwidth Hz), ...); float32 ``[n]``."""
    from scipy import signal

    t = np.arange(int(sr * seconds)) / sr
    f = f0 * (1 + 0.03 * np.sin(2 * np.pi * 0.5 * t))
    phase = np.cumsum(f) / sr
    pulses = np.diff(np.floor(phase), prepend=0.0)
    source = signal.lfilter([1.0], [1.0, -0.9], pulses)  # -6 dB/octave tilt
    y = source
    for freq, bw in formants:
        r = np.exp(-np.pi * bw / sr)
        a = [1.0, -2 * r * np.cos(2 * np.pi * freq / sr), r * r]
        y = signal.lfilter([1.0 - r], a, y)
    y = y - signal.lfilter([1.0], [1.0, -0.995], y) * 0.005  # remove slow drift
    return (0.3 * y / np.max(np.abs(y))).astype(np.float32)
