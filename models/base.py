"""The streaming voice protocol that every voice (built-in, LLVC, RVC) implements.

A voice converts a mono float32 stream at its own ``sample_rate`` in fixed steps of ``hop``
samples. The engine (``audio/``) resamples device audio to ``sample_rate`` and back, calls
``step`` once per hop on its worker thread (never in the audio callback), and accounts for
``latency`` in the planned latency it reports.

Timing contract
---------------
Let ``x`` be the concatenation of every ``step`` input and ``y`` the concatenation of every
output. Then ``y[n]`` is the voice's conversion of the input around ``x[n - latency]``:
``latency`` is the algorithmic delay in samples at ``sample_rate`` *on top of* the one hop of
buffering that any hop-based processing needs (the engine counts that hop separately).
A passthrough voice has ``latency == 0`` and ``y == x``.

State
-----
``init_state()`` returns a fresh state; ``step(x, state)`` returns ``(out, new_state)``. A voice
may update the state in place and return the same object; callers must always use the returned
one. State is owned by one caller at a time, so one voice object can serve the engine and an
offline conversion at once with two states.

Live parameters
---------------
``set_params(params)`` swaps in a new frozen :class:`VoiceParams`; ``step`` reads the current
reference once per call, so a change takes effect at the next hop boundary without locks.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from models.kinds import VoiceKind

F0_METHODS = ("rmvpe", "fcpe", "crepe", "dsp")


@dataclass(frozen=True)
class VoiceParams:
    """Live, per-hop parameters of a voice. Voices ignore the fields that do not apply to them."""

    pitch: float = 0.0
    """Pitch shift in semitones (positive is higher)."""
    formant: float = 0.0
    """Formant (timbre) shift in semitones, independent of pitch where the voice supports it."""
    index_rate: float = 0.75
    """RVC: share of retrieved (index) features blended into the content features, 0..1."""
    protect: float = 0.33
    """RVC: keep this much of the original features on voiceless frames (0.5 disables)."""
    f0_method: str = "rmvpe"
    """RVC: pitch tracker, one of F0_METHODS."""
    rms_mix_rate: float = 1.0
    """RVC: 1 keeps the output loudness envelope, 0 imposes the input's."""

    def __post_init__(self) -> None:
        if not -48.0 <= self.pitch <= 48.0:
            raise ValueError(f"pitch must be within ±48 semitones, got {self.pitch}")
        if not -24.0 <= self.formant <= 24.0:
            raise ValueError(f"formant must be within ±24 semitones, got {self.formant}")
        if not 0.0 <= self.index_rate <= 1.0:
            raise ValueError(f"index_rate must be within 0..1, got {self.index_rate}")
        if not 0.0 <= self.protect <= 0.5:
            raise ValueError(f"protect must be within 0..0.5, got {self.protect}")
        if self.f0_method not in F0_METHODS:
            raise ValueError(f"f0_method must be one of {', '.join(F0_METHODS)}, got {self.f0_method!r}")
        if not 0.0 <= self.rms_mix_rate <= 1.0:
            raise ValueError(f"rms_mix_rate must be within 0..1, got {self.rms_mix_rate}")


@dataclass(frozen=True)
class VoiceInfo:
    """What a voice library card shows."""

    name: str
    kind: VoiceKind
    description: str = ""
    details: dict[str, str] = field(default_factory=dict)
    """Short facts for display, e.g. {"version": "v2", "rate": "40 kHz", "f0": "yes"}."""


class Voice(ABC):
    """A streaming voice. Subclasses set ``sample_rate``, ``hop`` and ``latency`` in ``__init__``."""

    kind: ClassVar[VoiceKind] = VoiceKind.VOICE
    name: str
    sample_rate: int
    hop: int
    latency: int

    def __init__(self) -> None:
        self._params = VoiceParams()

    @property
    def params(self) -> VoiceParams:
        return self._params

    def set_params(self, params: VoiceParams) -> None:
        """Swap in new live parameters (one reference assignment; read once per step)."""
        self._params = params

    @abstractmethod
    def init_state(self) -> Any:
        """A fresh streaming state (buffers zeroed)."""

    @abstractmethod
    def step(self, x: np.ndarray, state: Any) -> tuple[np.ndarray, Any]:
        """Convert one hop: ``x`` float32 ``[hop]`` -> ``(y float32 [hop], state)``."""

    def info(self) -> VoiceInfo:
        return VoiceInfo(name=self.name, kind=self.kind)

    def warmup(self, steps: int = 3) -> None:
        """Run a few steps on silence so the first real hop is not slow (JIT, allocator, caches)."""
        state = self.init_state()
        silence = np.zeros(self.hop, dtype=np.float32)
        for _ in range(steps):
            _, state = self.step(silence, state)

    @property
    def latency_seconds(self) -> float:
        return self.latency / self.sample_rate


class PassthroughVoice(Voice):
    """Returns its input unchanged: the reference for latency measurements."""

    kind: ClassVar[VoiceKind] = VoiceKind.PASSTHROUGH

    def __init__(self, sample_rate: int = 48000, hop: int = 256) -> None:
        super().__init__()
        if sample_rate <= 0 or hop <= 0:
            raise ValueError("sample_rate and hop must be positive")
        self.name = "passthrough"
        self.sample_rate = sample_rate
        self.hop = hop
        self.latency = 0

    def init_state(self) -> None:
        return None

    def step(self, x: np.ndarray, state: None) -> tuple[np.ndarray, None]:
        return x, state

    def info(self) -> VoiceInfo:
        return VoiceInfo(self.name, self.kind, "Your own voice, unchanged (latency reference).")
