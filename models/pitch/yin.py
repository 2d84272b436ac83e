"""A fast DSP pitch tracker: YIN (cumulative mean normalised difference) in vectorised numpy.

Frames are centred on multiples of ``hop`` like RMVPE's (``1 + N // hop`` frames). Each frame
compares ``window`` samples with their copies lagged by up to ``sr / f0_min`` samples; the first
dip of the normalised difference under ``threshold`` gives the period, refined by parabolic
interpolation. Frames without such a dip, or quieter than ``silence_db``, are unvoiced (0 Hz).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class YinConfig:
    sample_rate: int = 16000
    hop: int = 160
    f0_min: float = 50.0
    f0_max: float = 1100.0
    window: int = 640
    """Integration window in samples (>= 2 periods at f0_min keeps the low end stable)."""
    threshold: float = 0.15
    """Voicing threshold on the normalised difference (YIN's absolute threshold)."""
    silence_db: float = -60.0
    """Frames whose RMS is below this (dBFS) are unvoiced without analysis."""

    def __post_init__(self) -> None:
        if not 0 < self.f0_min < self.f0_max < self.sample_rate / 2:
            raise ValueError(f"need 0 < f0_min < f0_max < sr/2, got {self.f0_min}, {self.f0_max}")
        if self.window < 8 or self.hop < 1:
            raise ValueError("window must be >= 8 samples and hop >= 1")


def _frames(padded: np.ndarray, length: int, hop: int, first: int, count: int) -> np.ndarray:
    """``[count, length]`` copies of frames ``first..first+count`` (frame j starts at ``j*hop``)."""
    idx = (first + np.arange(count))[:, None] * hop + np.arange(length)[None, :]
    return padded[idx]


BLOCK_FRAMES = 1024
"""Frames analysed at once: bounds memory (~30 MB) for inputs of any length."""


def yin(x: np.ndarray, cfg: YinConfig = YinConfig()) -> np.ndarray:
    """``[N]`` audio -> ``[1 + N // hop]`` float64 f0 in Hz (0 = unvoiced)."""
    x = np.asarray(x, dtype=np.float64).reshape(-1)
    n_frames = 1 + len(x) // cfg.hop
    tau_max = int(np.ceil(cfg.sample_rate / cfg.f0_min)) + 1
    length = cfg.window + tau_max
    # zero padding so that frame j is centred on sample j*hop
    padded = np.pad(x, (length // 2, length // 2 + length))
    f0 = np.zeros(n_frames)
    for first in range(0, n_frames, BLOCK_FRAMES):
        count = min(BLOCK_FRAMES, n_frames - first)
        f0[first : first + count] = _yin_frames(_frames(padded, length, cfg.hop, first, count), cfg, tau_max)
    f0[(f0 < cfg.f0_min) | (f0 > cfg.f0_max)] = 0.0
    return f0


def _yin_frames(frames: np.ndarray, cfg: YinConfig, tau_max: int) -> np.ndarray:
    """``[F, window + tau_max]`` frames -> ``[F]`` f0 (0 where no period is found)."""
    n, w = len(frames), cfg.window
    tau_min = max(2, int(np.floor(cfg.sample_rate / cfg.f0_max)))
    nfft = 1 << int(np.ceil(np.log2(2 * w + tau_max)))
    spec = np.fft.rfft(frames, nfft) * np.conj(np.fft.rfft(frames[:, :w], nfft))
    acf = np.fft.irfft(spec, nfft)[:, : tau_max + 1]  # sum_j<w x[j] x[j+tau]
    csum = np.concatenate([np.zeros((n, 1)), np.cumsum(frames**2, axis=1)], axis=1)
    taus = np.arange(tau_max + 1)
    energy_lag = csum[:, taus + w] - csum[:, taus]  # sum_j<w x[j+tau]^2
    diff = np.maximum(energy_lag[:, :1] + energy_lag - 2 * acf, 0.0)
    cum = np.cumsum(diff[:, 1:], axis=1)
    cmnd = np.ones_like(diff)
    with np.errstate(divide="ignore", invalid="ignore"):
        cmnd[:, 1:] = np.where(cum > 0, diff[:, 1:] * taus[1:] / cum, 1.0)
    f0 = np.zeros(n)
    loud = np.sqrt(energy_lag[:, 0] / w) > 10 ** (cfg.silence_db / 20)
    for j in np.flatnonzero(loud):
        tau = _first_dip(cmnd[j], tau_min, tau_max, cfg.threshold)
        if tau:
            f0[j] = cfg.sample_rate / _parabolic(diff[j], tau)
    return f0


def _first_dip(d: np.ndarray, tau_min: int, tau_max: int, threshold: float) -> int:
    """The first lag whose value is under ``threshold``, followed down to its local minimum."""
    below = np.flatnonzero(d[tau_min:tau_max] < threshold)
    if below.size == 0:
        return 0
    tau = tau_min + int(below[0])
    while tau + 1 < tau_max and d[tau + 1] < d[tau]:
        tau += 1
    return tau


def _parabolic(d: np.ndarray, tau: int) -> float:
    """Sub-sample position of the minimum of the parabola through ``d[tau-1..tau+1]``."""
    a, b, c = d[tau - 1], d[tau], d[tau + 1]
    den = a - 2 * b + c
    return float(tau + 0.5 * (a - c) / den) if den > 0 else float(tau)
