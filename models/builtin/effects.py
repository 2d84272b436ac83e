"""Cheap causal post effects for the presets (zero algorithmic latency)."""

from __future__ import annotations

import numpy as np


class RadioEffect:
    """300-3400 Hz band-pass (4th-order Butterworth) followed by soft saturation."""

    def __init__(
        self, sample_rate: int, low: float = 300.0, high: float = 3400.0, drive: float = 2.0
    ) -> None:
        from scipy import signal  # imported here: scipy.signal takes a second to import

        high = min(high, 0.45 * sample_rate)
        self._sosfilt = signal.sosfilt
        self.sos = signal.butter(2, [low, high], btype="bandpass", fs=sample_rate, output="sos")
        self.drive = drive
        self._norm = float(np.tanh(drive))

    def init_state(self) -> np.ndarray:
        """Filter memory ``[sections, 2]``."""
        return np.zeros((self.sos.shape[0], 2), dtype=np.float64)

    def process(self, x: np.ndarray, zi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Filter ``x`` ``[n]``; returns ``(y [n], new filter memory)``."""
        y, zf = self._sosfilt(self.sos, x, zi=zi)
        return np.tanh(self.drive * y) / self._norm, zf
