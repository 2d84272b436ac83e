"""YIN pitch estimation (cumulative mean normalised difference) in vectorised numpy.

One implementation serves two callers: the built-in voices place pitch marks from one short
segment at a time (:meth:`Yin.estimate`), and the "dsp" pitch tracker analyses every 10 ms frame
of a file (:meth:`Yin.track`).

A segment is ``window + tau_max + 1`` samples. Its first ``window`` samples are compared with
their copies lagged by ``tau`` for every ``tau <= tau_max``; the first dip of the normalised
difference under ``threshold`` (followed down to its local minimum) gives the period, refined by
a parabola through the raw difference. Segments quieter than ``silence_db`` are unvoiced without
analysis.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class YinConfig:
    """Tunables (Hz and seconds; :class:`Yin` converts them to samples for its sample rate).

    The defaults are the built-in voices'; the pitch tracker sets its own (RVC's f0 range, a
    40 ms window, no fallback).
    """

    f0_min: float = 60.0
    """Lowest f0 searched (Hz): sets the longest lag."""
    f0_max: float = 800.0
    """Highest f0 searched (Hz): sets the shortest lag."""
    window: float = 0.010
    """Integration window of the difference function (s); >= 2 periods at f0_min is stabler."""
    threshold: float = 0.2
    """The first dip of the normalised difference below this is taken as the period."""
    fallback_max: float | None = 0.35
    """Without a dip under ``threshold``, the global minimum still counts as the period if it is
    under this; None: such a segment is unvoiced."""
    silence_db: float = -55.0
    """Segments whose first window is quieter than this (dBFS RMS) are unvoiced."""

    def __post_init__(self) -> None:
        if not 0 < self.f0_min < self.f0_max:
            raise ValueError(f"need 0 < f0_min < f0_max, got {self.f0_min}, {self.f0_max}")
        if self.window <= 0:
            raise ValueError("window must be positive")
        if self.fallback_max is not None and self.fallback_max < self.threshold:
            raise ValueError("fallback_max must not be below threshold")


BLOCK_FRAMES = 1024
"""Frames :meth:`Yin.track` analyses at once: bounds memory (~30 MB) for inputs of any length."""


class Yin:
    """YIN at one sample rate; lags and FFT size are fixed at construction."""

    def __init__(self, sample_rate: int, config: YinConfig | None = None) -> None:
        self.config = cfg = config or YinConfig()
        if cfg.f0_max >= sample_rate / 2:
            raise ValueError(f"f0_max ({cfg.f0_max} Hz) must be below half the sample rate ({sample_rate})")
        self.sample_rate = sample_rate
        self.tau_min = max(2, int(sample_rate / cfg.f0_max))
        self.tau_max = int(np.ceil(sample_rate / cfg.f0_min))
        self.window = max(8, round(sample_rate * cfg.window))
        self.length = self.window + self.tau_max + 1
        """Samples in one analysis segment."""
        self._nfft = 1 << int(np.ceil(np.log2(self.length + self.window)))
        self._taus = np.arange(self.tau_max + 1)
        self._silence = 10.0 ** (cfg.silence_db / 10.0)

    def estimate(self, segment: np.ndarray) -> tuple[float, float]:
        """Period of ``segment`` (``[length]``) in samples, or 0.0 if unvoiced.

        Returns ``(period, aperiodicity)``: aperiodicity is the normalised difference at the
        chosen lag (0 = perfectly periodic, ~1 = noise).
        """
        if segment.shape[0] != self.length:
            raise ValueError(f"segment must have {self.length} samples, got {segment.shape[0]}")
        # the same steps as analyse() on one 1-D row (the built-in voices call this ~400 times a
        # second: a batch of one costs a fifth more in numpy's per-call overhead)
        x = np.asarray(segment, dtype=np.float64)
        energy = np.cumsum(x * x)
        if energy[self.window - 1] < self._silence * self.window:
            return 0.0, 1.0
        return self._pick(*self._normalised(x, energy))

    def analyse(self, segments: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``[F, length]`` segments -> ``(periods [F], aperiodicity [F])`` (period 0 = unvoiced)."""
        x = np.asarray(segments, dtype=np.float64)
        n, w = x.shape[0], self.window
        periods = np.zeros(n)
        aperiodicity = np.ones(n)
        energy = np.cumsum(x * x, axis=1)  # energy[:, k]: sum of x[j]^2 for j <= k
        rows = np.flatnonzero(energy[:, w - 1] >= self._silence * w)
        if rows.size == 0:
            return periods, aperiodicity
        if rows.size < n:
            x, energy = x[rows], energy[rows]
        d, cmnd = self._normalised(x, energy)
        for r, j in enumerate(rows):
            periods[j], aperiodicity[j] = self._pick(d[r], cmnd[r])
        return periods, aperiodicity

    def track(self, x: np.ndarray, hop: int) -> np.ndarray:
        """``[N]`` audio -> ``[1 + N // hop]`` float64 f0 in Hz (0 = unvoiced).

        Frame ``j`` is the segment centred on sample ``j * hop`` (zeros outside the signal);
        estimates outside ``[f0_min, f0_max]`` count as unvoiced.
        """
        x = np.asarray(x, dtype=np.float64).reshape(-1)
        n_frames = 1 + len(x) // hop
        length = self.length
        padded = np.pad(x, (length // 2, length // 2 + length))
        f0 = np.zeros(n_frames)
        for first in range(0, n_frames, BLOCK_FRAMES):
            count = min(BLOCK_FRAMES, n_frames - first)
            idx = (first + np.arange(count))[:, None] * hop + np.arange(length)[None, :]
            periods, _ = self.analyse(padded[idx])
            voiced = periods > 0
            f0[first : first + count][voiced] = self.sample_rate / periods[voiced]
        f0[(f0 < self.config.f0_min) | (f0 > self.config.f0_max)] = 0.0
        return f0

    def _normalised(self, x: np.ndarray, energy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Segments ``x`` (``[length]`` or ``[F, length]``) and their cumulative energy -> YIN's
        difference ``d(tau)`` for tau in 0..tau_max and the normalised difference
        ``d(tau) * tau / sum(d(1..tau))`` on the searched lags ``tau_min..tau_max - 1``."""
        w, n, lags = self.window, self._nfft, self.tau_max + 1
        spec = np.fft.rfft(x, n) * np.conj(np.fft.rfft(x[..., :w], n))
        corr = np.fft.irfft(spec, n)[..., :lags]  # sum_j<w x[j] x[j+tau]
        energy_lag = np.empty_like(corr)  # sum_j<w x[j+tau]^2
        energy_lag[..., 0] = energy[..., w - 1]
        np.subtract(energy[..., w : w + lags - 1], energy[..., : lags - 1], out=energy_lag[..., 1:])
        d = energy_lag[..., :1] + energy_lag - 2.0 * corr
        d[..., 0] = 0.0
        np.maximum(d, 0.0, out=d)
        lo, hi = self.tau_min, self.tau_max
        cum = np.cumsum(d[..., 1:hi], axis=-1)[..., lo - 1 :]
        cmnd = np.divide(d[..., lo:hi] * self._taus[lo:hi], cum, out=np.ones_like(cum), where=cum > 0)
        return d, cmnd

    def _pick(self, d: np.ndarray, cmnd: np.ndarray) -> tuple[float, float]:
        """``(period, aperiodicity)`` of one segment from its difference ``d`` (all lags) and its
        normalised difference ``cmnd`` (lags ``tau_min..tau_max - 1``)."""
        below = np.flatnonzero(cmnd < self.config.threshold)
        if below.size:
            i = int(below[0])
            while i + 1 < cmnd.shape[0] and cmnd[i + 1] < cmnd[i]:
                i += 1
        else:
            i = int(np.argmin(cmnd))
            fallback = self.config.fallback_max
            if fallback is None or cmnd[i] > fallback:
                return 0.0, float(cmnd[i])
        tau = self.tau_min + i
        return tau + _parabolic_offset(d, tau), float(cmnd[i])


def _parabolic_offset(d: np.ndarray, tau: int) -> float:
    """Sub-sample offset of the minimum of ``d`` around ``tau`` (within ±0.5)."""
    if tau <= 0 or tau + 1 >= d.shape[0]:
        return 0.0
    a, b, c = d[tau - 1], d[tau], d[tau + 1]
    den = a - 2.0 * b + c
    if den <= 0:
        return 0.0
    return float(np.clip(0.5 * (a - c) / den, -0.5, 0.5))
