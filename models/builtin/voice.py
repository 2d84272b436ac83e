"""`BuiltinVoice`: a preset run through the streaming PSOLA shifter, as a `models.base.Voice`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from models.base import Voice, VoiceInfo
from models.builtin.effects import RadioEffect
from models.builtin.presets import Preset
from models.builtin.psola import PsolaShifter, ShifterConfig, ShifterState
from models.kinds import VoiceKind


@dataclass
class BuiltinState:
    """Streaming state of a :class:`BuiltinVoice`."""

    shifter: ShifterState
    mix: float | None
    """Current wet share (0 = the delayed dry input); None until the first step."""
    effect: np.ndarray | None
    """Filter memory of the preset's effect, if any."""
    wet: np.ndarray
    """Scratch ``[hop]`` for the shifter output."""


class BuiltinVoice(Voice):
    """A built-in DSP voice. ``latency`` is exact: at pitch/formant 0 the output is the input
    delayed by ``latency`` samples (for ``shift``), bit for bit."""

    kind: ClassVar[VoiceKind] = VoiceKind.BUILTIN

    def __init__(
        self, preset: Preset, sample_rate: int = 48000, hop: int = 256, config: ShifterConfig | None = None
    ) -> None:
        super().__init__()
        if sample_rate <= 0 or hop <= 0:
            raise ValueError("sample_rate and hop must be positive")
        self.preset = preset
        self.name = preset.name
        self.sample_rate = sample_rate
        self.hop = hop
        self.shifter = PsolaShifter(sample_rate, config)
        self.latency = self.shifter.latency
        self._effect = RadioEffect(sample_rate) if preset.effect == "radio" else None

    def info(self) -> VoiceInfo:
        details = {"latency": f"{1000 * self.latency / self.sample_rate:.1f} ms"}
        if self.preset.pitch or self.preset.formant:
            details["pitch"] = f"{self.preset.pitch:+g} st"
            details["formant"] = f"{self.preset.formant:+g} st"
        return VoiceInfo(self.name, self.kind, self.preset.description, details)

    def init_state(self) -> BuiltinState:
        return BuiltinState(
            shifter=self.shifter.init_state(self.hop),
            mix=None,
            effect=self._effect.init_state() if self._effect else None,
            wet=np.zeros(self.hop, dtype=np.float64),
        )

    def settings(self) -> tuple[float, float, float]:
        """Current ``(ratio, beta, monotone_period)`` from the preset plus the live parameters."""
        params = self.params
        ratio = 2.0 ** ((self.preset.pitch + params.pitch) / 12.0)
        beta = 2.0 ** ((self.preset.formant + params.formant) / 12.0)
        monotone = 0.0
        if self.preset.monotone_hz > 0:
            monotone = self.sample_rate / (self.preset.monotone_hz * ratio)
        return ratio, beta, monotone

    def step(self, x: np.ndarray, state: BuiltinState) -> tuple[np.ndarray, BuiltinState]:
        """Convert one hop ``x`` float32 ``[n <= hop]`` -> float32 ``[n]``."""
        n = x.shape[0]
        if n > self.hop:
            raise ValueError(f"step got {n} samples, more than the hop of {self.hop}")
        if not np.isfinite(x).all():  # a broken input block must not poison the state
            x = np.nan_to_num(x, nan=0.0, posinf=1.0, neginf=-1.0)
        ratio, beta, monotone = self.settings()
        wet = state.wet[:n]
        self.shifter.process(x, state.shifter, ratio, beta, wet, monotone)
        target = 0.0 if (ratio == 1.0 and beta == 1.0 and monotone == 0.0) else 1.0
        mix = target if state.mix is None else state.mix
        end = state.shifter.history.end - self.latency
        dry = state.shifter.history.view(end - n, end)
        if mix == target:
            y = wet.copy() if target else dry.copy()
        else:
            ramp = np.linspace(mix, target, n, endpoint=False) if n > 1 else np.array([target])
            y = dry + ramp * (wet - dry)
        state.mix = target
        if self._effect is not None and state.effect is not None:
            y, state.effect = self._effect.process(y, state.effect)
        return y.astype(np.float32), state
