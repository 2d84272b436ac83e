"""Test signals for the built-in voice tests (not a test module)."""

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
