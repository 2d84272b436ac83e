"""A noise gate with hysteresis, hold and smooth attack/release (no clicks, no chatter).

The level is followed per hop (RMS in dBFS). The gate opens when it rises above ``threshold_db``
and closes only when it has stayed below ``threshold_db - hysteresis_db`` for ``hold_s`` (a word's
quiet consonant or a breath between syllables does not chop it). The gain moves towards 1 (open)
or 0 (closed) sample by sample along a one-pole exponential glide that gets within -60 dB of its
end point in ``attack_s`` (opening) or ``release_s`` (closing), so it never jumps within or between
hops.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SETTLED = 1e-3
"""A glide this close to its end point (-60 dB) is there."""
OFF_DB = -120.0
"""A threshold at or below this is "gate off" (every hop passes at unity gain)."""


@dataclass(frozen=True)
class GateTiming:
    hysteresis_db: float = 6.0
    hold_s: float = 0.15
    attack_s: float = 0.005
    release_s: float = 0.12


class NoiseGate:
    """Stateful gate: ``process(x, threshold_db)`` scales one hop in place and returns it."""

    def __init__(self, rate: int, timing: GateTiming | None = None) -> None:
        self.timing = timing or GateTiming()
        t = self.timing
        self.rate = rate
        settle = np.log(1.0 / SETTLED)  # time constants in a glide to -60 dB
        self._attack = 1.0 - np.exp(-settle / max(1.0, t.attack_s * rate))
        self._release = 1.0 - np.exp(-settle / max(1.0, t.release_s * rate))
        self.open = True
        self.gain = 1.0
        self._below_for = 0.0  # seconds the level has been under the closing threshold

    def process(self, x: np.ndarray, threshold_db: float, level_db: float) -> np.ndarray:
        """Gate ``x`` (one hop, float32, changed in place) given its level; ``threshold_db`` <= -120: off."""
        n = len(x)
        if threshold_db <= OFF_DB or level_db >= threshold_db:
            self.open, self._below_for = True, 0.0
        elif level_db < threshold_db - self.timing.hysteresis_db:
            self._below_for += n / self.rate
            if self._below_for >= self.timing.hold_s:
                self.open = False
        target = 1.0 if self.open else 0.0
        if self.gain == target:
            if target == 0.0:
                x[:] = 0.0
            return x
        rate = self._attack if target > self.gain else self._release
        # g[k] = target + (g0 - target) * (1 - rate) ** (k + 1): the one-pole glide, per sample
        curve = target + (self.gain - target) * (1.0 - rate) ** np.arange(1, n + 1)
        curve[np.abs(curve - target) < SETTLED] = target  # -60 dB from the end point: there
        self.gain = float(curve[-1])
        x *= curve.astype(np.float32)
        return x
