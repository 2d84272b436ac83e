"""RVC's f0 conventions: coarse (mel-bin) pitch, key shift, clipping and median filtering.

Offline (``Pipeline.get_f0``) and realtime (``RVC.get_f0_post``) code compute the same mapping
in different precisions; both are provided so each path reproduces its reference bit for bit.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy import signal

F0_MIN = 50.0
"""Lowest f0 RVC maps to coarse bin 1 (Hz)."""
F0_MAX = 1100.0
"""f0 mapped to coarse bin 255 (Hz)."""
F0_MEL_MIN = 1127 * np.log(1 + F0_MIN / 700)
F0_MEL_MAX = 1127 * np.log(1 + F0_MAX / 700)
HOP = 160
"""Samples per f0 frame at 16 kHz: 100 frames/s."""


def coarse_pitch(f0: np.ndarray) -> np.ndarray:
    """Offline mapping: ``[T]`` f0 in Hz (0 = unvoiced) -> ``[T]`` int32 bins 1..255.

    ``mel = 1127 ln(1 + f0/700)``, voiced frames scaled linearly so 50 Hz -> 1 and 1100 Hz -> 255,
    clipped to [1, 255], rounded half to even (``np.rint``), in the input's float precision
    (float64 in the reference).
    """
    f0_mel = 1127 * np.log(1 + np.asarray(f0) / 700)
    voiced = f0_mel > 0
    f0_mel[voiced] = (f0_mel[voiced] - F0_MEL_MIN) * 254 / (F0_MEL_MAX - F0_MEL_MIN) + 1
    f0_mel[f0_mel <= 1] = 1
    f0_mel[f0_mel > 255] = 255
    return np.rint(f0_mel).astype(np.int32)


def coarse_pitch_torch(f0: torch.Tensor) -> torch.Tensor:
    """Realtime mapping: the same formula on a float32 tensor with ``torch.round`` -> int64."""
    f0 = f0.float()
    f0_mel = 1127 * torch.log(1 + f0 / 700)
    voiced = f0_mel > 0
    f0_mel[voiced] = (f0_mel[voiced] - F0_MEL_MIN) * 254 / (F0_MEL_MAX - F0_MEL_MIN) + 1
    f0_mel[f0_mel <= 1] = 1
    f0_mel[f0_mel > 255] = 255
    return torch.round(f0_mel).long()


def shift_f0(f0: np.ndarray, semitones: float) -> np.ndarray:
    """Transpose by ``semitones`` (``f0 * 2**(semitones/12)``, as RVC's ``f0_up_key``); 0 stays 0."""
    return np.asarray(f0) * pow(2, semitones / 12)


def clip_f0(f0: np.ndarray, f0_min: float = F0_MIN, f0_max: float = F0_MAX) -> np.ndarray:
    """Frames below ``f0_min`` become unvoiced (0); frames above ``f0_max`` are clamped to it."""
    out = np.array(f0, dtype=np.float64)
    out[out < f0_min] = 0.0
    out[out > f0_max] = f0_max
    return out


def median_filter(f0: np.ndarray, filter_radius: int) -> np.ndarray:
    """The reference's smoothing of harvest-style trackers: a 3-tap median when
    ``filter_radius > 2`` (the radius only switches it on), otherwise unchanged."""
    if filter_radius > 2:
        return np.asarray(signal.medfilt(np.asarray(f0, dtype=np.float64), 3))
    return np.asarray(f0)
