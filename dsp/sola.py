"""SOLA (synchronized overlap-add) for chunked voices, and the crossfade helpers.

A chunked voice (RVC) converts a window longer than one hop; consecutive windows overlap. The
chunk it hands to :class:`Sola` is ``crossfade + search + hop`` samples whose beginning overlaps
the previous chunk's tail. SOLA picks the offset ``o`` in ``0..search`` where the chunk best
matches the stored tail (normalized cross-correlation), crossfades the tail into
``chunk[o : o + crossfade]`` and emits ``chunk[o : o + hop]``; the samples after that become the
next tail. Everything here is pure numpy on buffers allocated once in ``__init__``.
"""

from __future__ import annotations

import numpy as np


def equal_power_fade(n: int) -> tuple[np.ndarray, np.ndarray]:
    """``(fade_in, fade_out)`` float32 ``[n]`` with ``fade_in**2 + fade_out**2 == 1``.

    Use it between unrelated signals (voice swap): the loudness stays constant.
    """
    t = (np.arange(n, dtype=np.float64) + 0.5) / max(n, 1)
    return np.sin(0.5 * np.pi * t).astype(np.float32), np.cos(0.5 * np.pi * t).astype(np.float32)


def equal_gain_fade(n: int) -> tuple[np.ndarray, np.ndarray]:
    """``(fade_in, fade_out)`` float32 ``[n]`` with ``fade_in + fade_out == 1``.

    Use it between time-aligned versions of the same signal (SOLA, dry/wet of one input).
    """
    fade_in, _ = equal_power_fade(n)
    fin = np.square(fade_in)
    return fin.astype(np.float32), (1.0 - fin).astype(np.float32)


def crossfade(
    old: np.ndarray, new: np.ndarray, fades: tuple[np.ndarray, np.ndarray], out: np.ndarray | None = None
) -> np.ndarray:
    """``old * fade_out + new * fade_in`` (all ``[n]``), written into ``out`` when given.

    ``out`` may be ``old`` or ``new`` itself (an in-place fade).
    """
    fade_in, fade_out = fades
    if out is None:
        out = np.empty_like(new)
    if np.shares_memory(out, old):
        np.multiply(old, fade_out, out=out)
        out += new * fade_in
    else:
        np.multiply(new, fade_in, out=out)
        out += old * fade_out
    return out


class Sola:
    """Offset search + crossfade between consecutive overlapping chunks.

    ``process(chunk[crossfade + search + hop]) -> out[hop]`` (float32). ``offset`` is the offset
    chosen for the last chunk; ``reset()`` forgets the stored tail.
    """

    def __init__(self, hop: int, crossfade: int, search: int) -> None:
        if hop <= 0 or crossfade <= 0 or search < 0:
            raise ValueError("hop and crossfade must be positive and search >= 0")
        if crossfade > hop:
            raise ValueError(f"crossfade ({crossfade}) must not be longer than hop ({hop})")
        self.hop = hop
        self.crossfade = crossfade
        self.search = search
        self.chunk_size = crossfade + search + hop
        self.fade_in, self.fade_out = equal_gain_fade(crossfade)
        self._tail = np.zeros(crossfade, dtype=np.float32)
        self._out = np.zeros(hop, dtype=np.float32)
        self._energy = np.zeros(search + 1, dtype=np.float64)
        self._first = True
        self.offset = 0

    def reset(self) -> None:
        """Forget the previous chunk: the next chunk is emitted from offset 0 without a fade."""
        self._tail[:] = 0.0
        self._first = True
        self.offset = 0

    def best_offset(self, chunk: np.ndarray) -> int:
        """Offset in ``0..search`` maximizing the normalized cross-correlation with the stored tail."""
        if self.search == 0:
            return 0
        region = chunk[: self.crossfade + self.search].astype(np.float64)
        corr = np.correlate(region, self._tail.astype(np.float64), mode="valid")
        squares = np.concatenate([[0.0], np.cumsum(region * region)])
        np.subtract(squares[self.crossfade :], squares[: self.search + 1], out=self._energy)
        score = corr / np.sqrt(np.maximum(self._energy, 0.0) + 1e-8)
        return int(np.argmax(score))

    def process(self, chunk: np.ndarray) -> np.ndarray:
        """Emit one hop from ``chunk`` (float32 ``[crossfade + search + hop]``).

        The returned array is reused by the next call: copy it if you keep it.
        """
        if len(chunk) != self.chunk_size:
            raise ValueError(f"SOLA expects {self.chunk_size} samples, got {len(chunk)}")
        offset = 0 if self._first else self.best_offset(chunk)
        self._out[:] = chunk[offset : offset + self.hop]
        if not self._first:
            head = self._out[: self.crossfade]
            head *= self.fade_in
            head += self._tail * self.fade_out
        self._tail[:] = chunk[offset + self.hop : offset + self.hop + self.crossfade]
        self._first = False
        self.offset = offset
        return self._out
