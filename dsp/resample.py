"""Resampling audio that arrives block by block, for any pair of integer rates.

* :class:`StreamResampler` (the engine, realtime): low latency, its own polyphase filter, state
  kept between blocks, no allocation beyond the output.
* :class:`ChunkResampler` (offline conversion): bounded memory, and the concatenated output equals
  ``scipy.signal.resample_poly`` on the whole signal.

StreamResampler
---------------
Polyphase windowed-sinc (Kaiser window): the rate ratio is reduced to ``up / down`` and output
sample ``m`` is computed from the input around position ``m * down / up`` with the filter phase
``(m * down) % up``. Every output sample depends only on the global sample index, never on how
the input was cut into blocks, so streaming output equals one-shot output exactly (no clicks at
block edges). Before the first sample the input is taken as silence, so ``process`` returns
``ceil(total_in * up / down) - already_returned`` samples: the counts are deterministic.

The filter is linear-phase and causal, so the output is the input delayed by exactly ``delay``
output samples (``(taps * up - 1) / (2 * down)``, from the prototype at ``up * in_rate``). With the
default 12 zero crossings per side this is about 12 samples of the lower rate (0.75 ms at 16 kHz).

ChunkResampler
--------------
Offline conversion reads files block by block but must give the same result as resampling the
whole file at once. It keeps enough context around each block for ``resample_poly``'s filter, and
cuts blocks on input indices that map to whole output samples.
"""

from __future__ import annotations

import math
from math import ceil, gcd

import numpy as np


def design_kernel(up: int, down: int, zero_crossings: int, rolloff: float, beta: float) -> np.ndarray:
    """The prototype low-pass at ``up * in_rate`` as polyphase taps ``[up, taps_per_phase]``.

    Row ``p`` holds ``h[p + k * up]`` for ``k = 0..taps_per_phase-1`` (already scaled by ``up``
    so the passband gain is 1).
    """
    cutoff = rolloff * 0.5 / max(up, down)  # cycles per prototype-rate sample
    half = zero_crossings * max(up, down) / rolloff  # half-length in prototype samples
    taps_per_phase = max(2, ceil(2 * half / up))
    n = taps_per_phase * up
    t = np.arange(n, dtype=np.float64) - (n - 1) / 2.0
    h = 2.0 * cutoff * np.sinc(2.0 * cutoff * t) * np.kaiser(n, beta)
    h *= up / h.sum()
    return h.reshape(taps_per_phase, up).T.copy()


class StreamResampler:
    """Streams float32 mono audio from ``in_rate`` to ``out_rate``.

    ``process(x[n]) -> y[k]`` with ``k`` determined by the running sample counts; ``delay`` is
    the exact group delay in output samples; ``reset()`` forgets all history.
    """

    def __init__(
        self,
        in_rate: int,
        out_rate: int,
        *,
        zero_crossings: int = 12,
        rolloff: float = 0.92,
        beta: float = 8.0,
    ) -> None:
        if in_rate <= 0 or out_rate <= 0:
            raise ValueError("sample rates must be positive")
        self.in_rate = int(in_rate)
        self.out_rate = int(out_rate)
        g = gcd(self.in_rate, self.out_rate)
        self.up = self.out_rate // g
        self.down = self.in_rate // g
        self.identity = self.up == 1 and self.down == 1
        if self.identity:
            self._phases = np.ones((1, 1), dtype=np.float32)
        else:
            self._phases = design_kernel(self.up, self.down, zero_crossings, rolloff, beta).astype(np.float32)
        self.taps = self._phases.shape[1]
        self.delay = 0.0 if self.identity else (self.taps * self.up - 1) / (2.0 * self.down)
        """Group delay in output samples (exact for the linear-phase prototype)."""
        self._history = np.zeros(self.taps - 1, dtype=np.float32)
        self.reset()

    def reset(self) -> None:
        """Back to the initial state (silence before the next sample)."""
        self._history[:] = 0.0
        self._in_count = 0
        self._out_count = 0

    def output_count(self, total_in: int) -> int:
        """Output samples produced in total after ``total_in`` input samples."""
        return -((-total_in * self.up) // self.down)

    def process(self, x: np.ndarray) -> np.ndarray:
        """Resample the next block ``x`` (float32 ``[n]``, any ``n >= 0``); returns ``[k]`` float32."""
        x = np.asarray(x, dtype=np.float32).reshape(-1)
        if self.identity:
            self._in_count += len(x)
            self._out_count += len(x)
            return x.copy()
        buf = np.concatenate([self._history, x]) if len(self._history) else x
        total_out = self.output_count(self._in_count + len(x))
        m = np.arange(self._out_count, total_out, dtype=np.int64)
        pos = m * self.down
        base = pos // self.up - self._in_count + len(self._history)  # index of x[n] in buf
        phase = pos % self.up
        idx = base[:, None] - np.arange(self.taps)[None, :]
        y = np.einsum("ij,ij->i", buf[idx], self._phases[phase]).astype(np.float32)
        if len(self._history):
            self._history[:] = buf[len(buf) - len(self._history) :]
        self._in_count += len(x)
        self._out_count = total_out
        return y


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
