"""Small voices for engine tests: each does one known thing so the output can be checked exactly."""

from __future__ import annotations

import time

import numpy as np

from models.base import Voice


class InvertVoice(Voice):
    """``y[n] = -x[n - latency]``, optionally sleeping ``sleep_s`` per step (a too-slow voice)."""

    kind = "test"

    def __init__(self, sample_rate: int, hop: int, latency: int = 0, sleep_s: float = 0.0) -> None:
        super().__init__()
        self.name = "invert"
        self.sample_rate = sample_rate
        self.hop = hop
        self.latency = latency
        self.sleep_s = sleep_s
        self.steps = 0

    def init_state(self) -> np.ndarray:
        return np.zeros(self.latency + self.hop, dtype=np.float32)

    def step(self, x: np.ndarray, state: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        self.steps += 1
        if self.sleep_s:
            time.sleep(self.sleep_s)
        state[: self.latency] = state[self.hop :]
        state[self.latency :] = x
        return -state[: self.hop].copy(), state

    def warmup(self, steps: int = 3) -> None:
        """No sleeping during warm-up."""
