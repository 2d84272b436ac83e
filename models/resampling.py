"""Blockwise polyphase resampling that matches ``scipy.signal.resample_poly`` on the whole signal.

Offline conversion reads files block by block (bounded memory) but must give the same result as
resampling the whole file at once. :class:`ChunkResampler` keeps enough context around each
block for the polyphase filter, and cuts blocks on input indices that map to whole output
samples, so its concatenated output equals ``resample_poly(whole, up, down)`` to float precision.
"""

from __future__ import annotations

import math

import numpy as np

_HALF_TAPS_PER_PHASE = 10
"""resample_poly's default Kaiser filter has 10 * max(up, down) taps on each side (upsampled rate)."""


class ChunkResampler:
    """Streaming ``in_rate`` -> ``out_rate`` conversion for offline use (not for the audio thread)."""

    def __init__(self, in_rate: int, out_rate: int) -> None:
        if in_rate <= 0 or out_rate <= 0:
            raise ValueError("rates must be positive")
        from scipy import signal  # imported here: scipy.signal is slow to import (CLI start-up)

        self._resample_poly = signal.resample_poly
        g = math.gcd(in_rate, out_rate)
        self.up, self.down = out_rate // g, in_rate // g
        half_in = _HALF_TAPS_PER_PHASE * max(self.up, self.down) / self.up + 2
        self.margin = math.ceil(half_in / self.down) * self.down
        """Context (input samples, a multiple of ``down``) kept on each side of a block."""
        self._buf = np.zeros(self.margin, dtype=np.float64)
        self._buf_start = -self.margin
        """Absolute input index of ``_buf[0]`` (zeros before the signal starts)."""
        self._total = 0
        self._done = 0

    @property
    def identity(self) -> bool:
        return self.up == self.down

    def push(self, x: np.ndarray) -> np.ndarray:
        """Add input ``[n]``; returns the output samples that are now final (float64)."""
        if self.identity:
            return np.asarray(x, dtype=np.float64)
        self._buf = np.concatenate((self._buf, x.astype(np.float64)))
        self._total += x.shape[0]
        ready = ((self._total - self.margin) // self.down) * self.down
        if ready <= self._done:
            return np.zeros(0)
        return self._convert(ready)

    def flush(self) -> np.ndarray:
        """The remaining output; total output length is ``ceil(n_in * up / down)``."""
        if self.identity:
            return np.zeros(0)
        end = math.ceil(self._total / self.down) * self.down
        pad = end + self.margin - (self._buf_start + self._buf.shape[0])
        self._buf = np.concatenate((self._buf, np.zeros(pad)))
        y = self._convert(end) if end > self._done else np.zeros(0)
        expected = math.ceil(self._total * self.up / self.down)
        produced = end * self.up // self.down
        return y[: y.shape[0] - (produced - expected)]

    def _convert(self, stop: int) -> np.ndarray:
        """Output for input ``_done..stop`` (both multiples of ``down``)."""
        a = self._done - self.margin - self._buf_start
        b = stop + self.margin - self._buf_start
        seg = self._buf[a:b]
        y = self._resample_poly(seg, self.up, self.down)
        skip = self.margin * self.up // self.down
        out = y[skip : skip + (stop - self._done) * self.up // self.down]
        self._done = stop
        keep_from = self._done - self.margin - self._buf_start
        self._buf = self._buf[keep_from:]
        self._buf_start += keep_from
        return out
