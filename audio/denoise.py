"""Noise suppression as the engine's input stage (before the gate and the voice, for every voice kind).

RNNoise (``dsp/rnnoise.py``) works on 10 ms frames at 48 kHz. :class:`NoiseStage` presents it with
the streaming voice protocol (rate 48 kHz, hop 480, latency 960), so the worker runs it through
the same :class:`audio.worker.VoicePipeline` as a voice: resampled from and to the device rate
where that differs, framed by FIFOs sized exactly for the device hop, with a lag known in advance
(``pipeline.lag``) that the engine adds to its plan as the ``denoise`` part.

Strength: "strong" plays RNNoise's output; "light" lets a quarter of what it removed through
(a floor of about -12 dB on the noise: breath and room stay a little audible, speech is untouched).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from audio.config import NoiseSuppression
from dsp import rnnoise
from models.base import Voice

LIGHT_RESIDUE = 0.25
"""Share of the removed signal "light" keeps (-12 dB)."""


class NoiseStage(Voice):
    """RNNoise as a stream of 480-sample hops at 48 kHz (``step`` per hop, state carried over)."""

    def __init__(self, strength: NoiseSuppression = "strong") -> None:
        super().__init__()
        if strength not in ("light", "strong"):
            raise ValueError(f"noise suppression strength must be 'light' or 'strong', got {strength!r}")
        rnnoise.library()  # RNNoiseUnavailableError now, not on the audio path
        self.name = f"noise suppression ({strength})"
        self.strength = strength
        self.sample_rate = rnnoise.RATE
        self.hop = rnnoise.FRAME
        self.latency = rnnoise.DELAY

    def init_state(self) -> Any:
        """(RNNoise state, the input delayed like its output: for "light")."""
        return rnnoise.RNNoise(), np.zeros(self.latency + self.hop, dtype=np.float32)

    def step(self, x: np.ndarray, state: Any) -> tuple[np.ndarray, Any]:
        net, delay = state
        y, _probability = net.process(x)
        if self.strength == "light":
            delay[: self.latency] = delay[self.hop :]
            delay[self.latency :] = x
            y = y + LIGHT_RESIDUE * (delay[: self.hop] - y)
        return y.astype(np.float32, copy=False), state
