"""A small YIN pitch detector used by the built-in voices to place pitch marks.

It works on one short analysis segment at a time (the most recent audio the voice may look at),
with FFT-based autocorrelation and parabolic refinement of the lag, so one estimate costs two
real FFTs of a few thousand points.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class YinConfig:
    """Tunables of the detector (seconds and Hz; converted to samples per sample rate)."""

    fmin: float = 60.0
    """Lowest f0 searched (Hz): sets the longest lag."""
    fmax: float = 800.0
    """Highest f0 searched (Hz): sets the shortest lag."""
    window: float = 0.010
    """Integration window of the difference function (s); the segment is window + 1/fmin long."""
    threshold: float = 0.2
    """First dip of the normalised difference below this is taken as the period."""
    voiced_max: float = 0.35
    """A best dip above this is called unvoiced."""
    silence_db: float = -55.0
    """Segments quieter than this (dBFS RMS) are unvoiced."""

    def __post_init__(self) -> None:
        if not 0 < self.fmin < self.fmax:
            raise ValueError(f"need 0 < fmin < fmax, got {self.fmin}, {self.fmax}")
        if self.window <= 0:
            raise ValueError("window must be positive")


class YinDetector:
    """YIN on fixed-length segments; all buffers sized once at construction."""

    def __init__(self, sample_rate: int, config: YinConfig | None = None) -> None:
        self.config = config or YinConfig()
        self.sample_rate = sample_rate
        self.tau_min = max(2, int(sample_rate / self.config.fmax))
        self.tau_max = int(np.ceil(sample_rate / self.config.fmin))
        self.window = max(8, round(sample_rate * self.config.window))
        self.length = self.window + self.tau_max + 1
        self._nfft = 1 << int(np.ceil(np.log2(self.length + self.window)))
        self._taus = np.arange(self.tau_max + 1, dtype=np.float64)
        lags = np.arange(self.tau_max + 1)
        self._end_idx = lags + self.window - 1
        self._start_idx = lags - 1
        self._silence = 10.0 ** (self.config.silence_db / 10.0)

    def estimate(self, seg: np.ndarray) -> tuple[float, float]:
        """Period of ``seg`` (float32/64 ``[length]``) in samples, or 0.0 if unvoiced.

        Returns ``(period, aperiodicity)``: aperiodicity is the normalised difference at the
        chosen lag (0 = perfectly periodic, ~1 = noise).
        """
        if seg.shape[0] != self.length:
            raise ValueError(f"segment must have {self.length} samples, got {seg.shape[0]}")
        x = seg.astype(np.float64)
        w = self.window
        energy = np.cumsum(x * x)
        e0 = energy[w - 1]
        if e0 / w < self._silence:
            return 0.0, 1.0
        d = self._difference(x, energy)
        return self._pick(d)

    def _difference(self, x: np.ndarray, energy: np.ndarray) -> np.ndarray:
        """YIN difference d(tau) for tau in 0..tau_max, ``[tau_max + 1]``."""
        w, n = self.window, self._nfft
        spec_a = np.fft.rfft(x[:w], n)
        spec_b = np.fft.rfft(x, n)
        corr = np.fft.irfft(np.conj(spec_a) * spec_b, n)[: self.tau_max + 1]
        shifted = energy[self._end_idx] - energy[self._start_idx]
        shifted[0] = energy[w - 1]
        d = energy[w - 1] + shifted - 2.0 * corr
        d[0] = 0.0
        return np.maximum(d, 0.0)

    def _pick(self, d: np.ndarray) -> tuple[float, float]:
        """First dip below threshold (else the global minimum), refined parabolically."""
        cum = np.cumsum(d[1:])
        cmnd = np.ones_like(d)
        cmnd[1:] = d[1:] * self._taus[1:] / np.maximum(cum, 1e-20)
        lo, hi = self.tau_min, self.tau_max
        region = cmnd[lo:hi]
        below = np.flatnonzero(region < self.config.threshold)
        if below.size:
            tau = lo + int(below[0])
            while tau + 1 < hi and cmnd[tau + 1] < cmnd[tau]:
                tau += 1
        else:
            tau = lo + int(np.argmin(region))
        aperiodicity = float(cmnd[tau])
        if aperiodicity > self.config.voiced_max:
            return 0.0, aperiodicity
        return tau + _parabolic_offset(d, tau), aperiodicity


def _parabolic_offset(d: np.ndarray, tau: int) -> float:
    """Sub-sample offset of the minimum of ``d`` around ``tau`` (within ±0.5)."""
    if tau <= 0 or tau + 1 >= d.shape[0]:
        return 0.0
    a, b, c = d[tau - 1], d[tau], d[tau + 1]
    den = a - 2.0 * b + c
    if den <= 0:
        return 0.0
    return float(np.clip(0.5 * (a - c) / den, -0.5, 0.5))
