"""Pitch (f0) trackers and RVC's f0 conventions.

* ``load_rmvpe(path)`` -> :class:`RMVPE` with ``mel``, ``salience`` and ``f0`` (RVC's ``rmvpe.pt``).
* ``create_tracker(method)`` -> :class:`PitchTracker` for "rmvpe", "fcpe", "crepe" or "dsp":
  ``f0(wav16k) -> [1 + N // 160]`` Hz at 100 frames/s.
* ``coarse_pitch`` (offline, numpy, ``np.rint``) / ``coarse_pitch_torch`` (realtime,
  ``torch.round``), ``shift_f0``, ``clip_f0``, ``median_filter``.
"""

from .f0 import F0_MAX, F0_MIN, clip_f0, coarse_pitch, coarse_pitch_torch, median_filter, shift_f0
from .rmvpe import RMVPE, load_rmvpe
from .trackers import PitchTracker, PitchTrackerError, TrackerConfig, create_tracker

__all__ = [
    "F0_MAX",
    "F0_MIN",
    "RMVPE",
    "PitchTracker",
    "PitchTrackerError",
    "TrackerConfig",
    "clip_f0",
    "coarse_pitch",
    "coarse_pitch_torch",
    "create_tracker",
    "load_rmvpe",
    "median_filter",
    "shift_f0",
]
